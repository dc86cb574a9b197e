"""python manage.py fetch_datasets [mnist fashion_mnist cifar10] – needs internet access."""

from django.core.management.base import BaseCommand, CommandError

from playground.datasets import TORCHVISION, DatasetError, data_dir, dataset_fetch


class Command(BaseCommand):
    help = f"Download torchvision datasets into {data_dir()} (default: all of them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="*", choices=[*TORCHVISION, []], default=list(TORCHVISION)
        )

    def handle(self, *args, names, **opts):
        for name in names or TORCHVISION:
            try:
                root = dataset_fetch(name)
            except (DatasetError, OSError, RuntimeError) as exc:
                raise CommandError(f"{name}: {exc}") from None
            self.stdout.write(f"{name}: ready in {root}")
