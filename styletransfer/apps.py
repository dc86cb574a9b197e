from django.apps import AppConfig


class StyletransferConfig(AppConfig):
    name = "styletransfer"
