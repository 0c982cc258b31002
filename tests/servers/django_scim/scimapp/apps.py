from django.apps import AppConfig


class ScimAppConfig(AppConfig):
    name = "tests.servers.django_scim.scimapp"
    label = "scimapp"
