"""Model, settings and ComponentResources that turn the service catalog into pipelines."""
