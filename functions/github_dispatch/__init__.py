"""GitHub dispatch: a CodePipeline Lambda action that runs a service's deploy workflow on GitHub Actions."""
