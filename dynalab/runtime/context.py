"""The ``context`` handed to ``handle(data, context)``, shaped like TorchServe's.

Handlers written for TorchServe read ``context.manifest``,
``context.system_properties`` and ``context.model_name``, and some call
``context.metrics.add_*`` or the request/response header helpers; all of
these behave here as they do in ``ts.context.Context``.
"""

from dynalab import __version__


class NullMetrics:
    """Accepts every ``add_*`` / ``get_metric`` call of TorchServe's metrics cache and records nothing."""

    def __getattr__(self, name):
        if name.startswith(("add_", "get_metric", "emit")):
            return _ignore
        raise AttributeError(name)


def _ignore(*args, **kwargs):
    return None


class RequestProcessor:
    """Headers of one request, and the status and headers of its response."""

    def __init__(self, request_headers=None):
        self._request_headers = dict(request_headers or {})
        self._status_code = 200
        self._reason_phrase = None
        self._response_headers = {}

    def get_request_property(self, key):
        # HTTP header names are case-insensitive; TorchServe hands them over lower-cased.
        if key in self._request_headers:
            return self._request_headers[key]
        lowered = {name.lower(): value for name, value in self._request_headers.items()}
        return lowered.get(key.lower())

    def get_request_properties(self):
        return self._request_headers

    def report_status(self, code, reason_phrase=None):
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self):
        return self._status_code

    def get_response_status_phrase(self):
        return self._reason_phrase

    def add_response_property(self, key, value):
        self._response_headers[key] = value

    def get_response_headers(self):
        return self._response_headers

    def get_response_header(self, key):
        return self._response_headers.get(key)


class Context:
    """Same constructor and attributes as TorchServe's ``ts.context.Context``."""

    def __init__(self, model_name, model_dir, manifest, batch_size, gpu, mms_version,
                 limit_max_image_pixels=True, metrics=None):
        self.model_name = model_name
        self.manifest = manifest
        self._system_properties = {
            "model_dir": model_dir,
            "gpu_id": gpu,
            "batch_size": batch_size,
            "server_name": "MMS",
            "server_version": mms_version,
            "limit_max_image_pixels": limit_max_image_pixels,
        }
        self.request_ids = None
        self.request_processor = None
        self.metrics = metrics if metrics is not None else NullMetrics()

    @property
    def system_properties(self):
        return self._system_properties

    def start_request(self, headers=None, request_id=None):
        """Reset the per-request state before one call of ``handle`` (batch of one)."""
        self.request_processor = [RequestProcessor(headers)]
        self.request_ids = {0: request_id} if request_id is not None else None
        return self.request_processor[0]

    def get_request_id(self, idx=0):
        if self.request_ids is None:
            return None
        return self.request_ids.get(idx)

    def get_request_header(self, idx, key):
        return self._processor(idx).get_request_property(key)

    def get_all_request_header(self, idx):
        return self._processor(idx).get_request_properties()

    def set_response_content_type(self, idx, value):
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx):
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx):
        processor = self._processor(idx)
        return processor.get_response_status_code(), processor.get_response_status_phrase()

    def set_response_status(self, code=200, phrase="", idx=0):
        if self.request_processor is not None and idx < len(self.request_processor):
            self.request_processor[idx].report_status(code, reason_phrase=phrase)

    def set_all_response_status(self, code=200, phrase=""):
        for processor in self.request_processor or []:
            processor.report_status(code, reason_phrase=phrase)

    def get_response_headers(self, idx):
        return self._processor(idx).get_response_headers()

    def set_response_header(self, idx, key, value):
        self._processor(idx).add_response_property(key, value)

    def _processor(self, idx):
        # Outside a request (e.g. during handle(None, context)) there are no
        # headers: answer as an empty request rather than crash the handler.
        if not self.request_processor:
            self.start_request()
        return self.request_processor[idx]


def context_from_spec(spec):
    """The Context for a validated run spec (see ``dynalab.runtime.protocol``)."""
    manifest = {
        "model": {
            "modelName": spec["model_name"],
            "serializedFile": spec["serialized_file"],
            "handler": spec["handler"],
            "modelVersion": "1.0",
        }
    }
    return Context(
        model_name=spec["model_name"],
        model_dir=spec["model_dir"],
        manifest=manifest,
        batch_size=spec["batch_size"],
        gpu=spec["gpu_id"],
        mms_version=__version__,
    )
