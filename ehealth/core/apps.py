from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):  # noqa: ARG001
    from ehealth.core.permissions import roles_sync

    roles_sync()


class CoreConfig(AppConfig):
    name = "ehealth.core"
    label = "core"
    verbose_name = "Nền tảng"

    def ready(self) -> None:
        # Role groups need the permissions that post_migrate creates; seeding them is set-up, not
        # business logic.
        post_migrate.connect(_sync_roles, dispatch_uid="ehealth.core.roles_sync")
