from django.core.management.base import BaseCommand, CommandError

from webapp.modelfiles import MODEL_FILES, ModelFileError, default_models_dir, fetch


class Command(BaseCommand):
    help = (
        "Fetch the model weights (VGG19, YOLOv3-tiny, YOLOv4-tiny) and the MNIST-5k digits into "
        "the data directory, checking SHA-256."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help=f"only these files ({', '.join(MODEL_FILES)})")

    def handle(self, *args, names, **options):
        unknown = set(names) - set(MODEL_FILES)
        if unknown:
            raise CommandError(f"unknown model file(s): {', '.join(sorted(unknown))}")
        directory = default_models_dir()
        try:
            for name in names or MODEL_FILES:
                fetch(MODEL_FILES[name], directory, log=self.stdout.write)
        except ModelFileError as exc:
            raise CommandError(str(exc)) from exc
