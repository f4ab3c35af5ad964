from django.apps import AppConfig


class FhirApiConfig(AppConfig):
    name = "fhir_api"
    verbose_name = "FHIR R4 API"

    def ready(self) -> None:
        """Load the providers and the R4 models of every served type when the process starts
        (each web worker, at boot), not on the first request that needs them: importing them
        and building their validators costs a partner's first requests hundreds of ms."""
        from fhir_api import registry
        from fhir_api.fhir import resource_class

        for resource in registry.all_resources():
            resource_class(resource.type)
        for extra in ("Bundle", "OperationOutcome", "CapabilityStatement", "Parameters"):
            resource_class(extra)
