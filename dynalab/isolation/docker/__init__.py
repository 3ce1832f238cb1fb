"""The docker backend: an image built with the Docker SDK, run without network (see ``backend`` and ``image``)."""
