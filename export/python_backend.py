"""The embedded profile's model: Triton's Python backend running ``model.onnx`` with ONNX Runtime.

Copied into the model repository as ``<model>/1/model.py``. The ``tritonserver`` binary of the
``nvidia-pytriton`` wheel has only the Python backend, so this is how the embedded server serves the same
ONNX graph as the ONNX Runtime backend does in Docker. The stub runs the system's libpython, not the
virtualenv's interpreter: the launcher names the virtualenv's site-packages in ``SENTIMENT_SITE_PACKAGES``.
"""

import json
import os
import site

for _path in os.environ.get("SENTIMENT_SITE_PACKAGES", "").split(os.pathsep):
    if _path:
        site.addsitedir(_path)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "1"))
        options.inter_op_num_threads = 1
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        self.session = ort.InferenceSession(
            os.path.join(version_dir, params.get("onnx_file", "model.onnx")),
            options,
            providers=["CPUExecutionProvider"],
        )
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.outputs = [tensor["name"] for tensor in config["output"]]

    def execute(self, requests: list["pb_utils.InferenceRequest"]) -> list["pb_utils.InferenceResponse"]:
        # The dynamic batcher hands over several requests, each padded to its own longest text. Requests of
        # one width run as one session call; a short request is never padded to a long one's width, which
        # would cost more than batching saves (the client sends texts grouped by length).
        arrays = [
            {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            for request in requests
        ]
        by_width: dict[int, list[int]] = {}
        for i, feed in enumerate(arrays):
            by_width.setdefault(feed[self.inputs[0]].shape[1], []).append(i)
        responses: list[pb_utils.InferenceResponse | None] = [None] * len(requests)
        for members in by_width.values():
            feed = {
                name: np.concatenate([arrays[i][name] for i in members]).astype(np.int64)
                for name in self.inputs
            }
            results = self.session.run(self.outputs, feed)
            start = 0
            for i in members:
                rows = slice(start, start + arrays[i][self.inputs[0]].shape[0])
                start = rows.stop
                tensors = [
                    pb_utils.Tensor(name, result[rows])
                    for name, result in zip(self.outputs, results, strict=True)
                ]
                responses[i] = pb_utils.InferenceResponse(output_tensors=tensors)
        return responses  # type: ignore[return-value,unused-ignore]
