"""Reference values of the NAR's pieces for transnar's parity tests (tests/nar).

Runs under the *reference* interpreter (dm-clrs with JAX and Haiku, see the
README), never under transnar's, in float64 (``jax_enable_x64``). Reads a JSON
list of jobs from the file given as first argument and writes one ``.npz`` per
job into the directory given as second argument. Job kinds:

- ``sinkhorn``: ``decoders.log_sinkhorn`` of ``x`` (no noise, zero diagonal);
  writes ``y``.
- ``output_loss`` / ``hint_loss``: ``losses.output_loss`` or ``losses.hint_loss``
  of one probe (``type``, ``location``, ``truth``, ``pred``/``preds``,
  ``lengths``, ``nb_nodes``; hints time-major); writes ``loss``.
- ``evaluate``: ``evaluation.evaluate`` of outputs (``spec``: name -> [location,
  type], ``truth``, ``pred``); writes ``score/<name>``.
- ``net``: a ``nets.Net`` of one algorithm (``spec``, ``nb_dims``, ``config``,
  batch-major ``inputs`` and ``outputs``, time-major ``hints``, ``lengths``),
  initialised with ``seed``; writes its parameters ``param/<module>/<name>``,
  the evaluation run (``repred=True``) ``eval_out/<name>`` and
  ``eval_hint/<name>`` (time-major), the training run (``repred=False``)
  ``train_out/<name>`` and ``train_hint/<name>``, the training losses as the
  reference ``BaselineModel._loss`` adds them (``loss/<name>``) and the
  gradient of their sum (``grad/<module>/<name>``).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import haiku as hk
import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from clrs._src import decoders, evaluation, losses, nets, probing, processors, samplers  # noqa: E402


def _array(value):
    return np.asarray(value, dtype=np.float64)


def _point(name, location, type_, data):
    return probing.DataPoint(name=name, location=location, type_=type_, data=data)


def sinkhorn(job):
    y = decoders.log_sinkhorn(
        _array(job["x"]), job["steps"], job["temperature"], zero_diagonal=True, noise_rng_key=None
    )
    return {"y": np.asarray(y)}


def output_loss(job):
    truth = _point("x", job["location"], job["type"], _array(job["truth"]))
    return {"loss": np.asarray(losses.output_loss(truth, _array(job["pred"]), job["nb_nodes"]))}


def hint_loss(job):
    truth = _point("x", job["location"], job["type"], _array(job["truth"]))
    preds = list(_array(job["preds"]))
    loss = losses.hint_loss(truth, preds, np.asarray(job["lengths"]), job["nb_nodes"])
    return {"loss": np.asarray(loss)}


def evaluate(job):
    outputs = tuple(
        _point(name, loc, typ, _array(job["truth"][name]))
        for name, (loc, typ) in job["spec"].items()
    )
    predictions = {
        name: _point(name, loc, typ, _array(job["pred"][name]))
        for name, (loc, typ) in job["spec"].items()
    }
    scores = evaluation.evaluate(outputs, predictions)
    return {f"score/{name}": np.asarray(value) for name, value in scores.items()}


def net(job):
    config = job["config"]
    spec = {name: tuple(v) for name, v in job["spec"].items()}
    inputs = tuple(_point(n, spec[n][1], spec[n][2], _array(v)) for n, v in job["inputs"].items())
    hints = tuple(_point(n, spec[n][1], spec[n][2], _array(v)) for n, v in job["hints"].items())
    outputs = tuple(_point(n, spec[n][1], spec[n][2], _array(v)) for n, v in job["outputs"].items())
    lengths = np.asarray(job["lengths"])
    features = samplers.Features(inputs=inputs, hints=hints, lengths=lengths)
    factory = processors.get_processor_factory(
        config["processor"], use_ln=config["use_ln"], nb_triplet_fts=config["nb_triplet_fts"]
    )
    hint_mode = config["hint_mode"]

    def forward(features, repred):
        model = nets.Net(
            spec=[spec],
            hidden_dim=config["hidden_dim"],
            encode_hints=hint_mode == "encoded_decoded",
            decode_hints=hint_mode in ("encoded_decoded", "decoded_only"),
            processor_factory=factory,
            use_lstm=False,
            encoder_init=config["encoder_init"],
            dropout_prob=0.0,
            hint_teacher_forcing=config["hint_teacher_forcing"],
            hint_repred_mode=config["hint_repred_mode"],
            nb_dims=[job["nb_dims"]],
            nb_msg_passing_steps=config["msg_passing_steps"],
        )
        return model(
            [features],
            repred=repred,
            algorithm_index=0,
            return_hints=True,
            return_all_outputs=False,
        )

    network = hk.transform(forward)
    params = network.init(jax.random.PRNGKey(job["seed"]), features, True)
    nb_nodes = next(p.data.shape[1] for p in inputs if p.location in ("node", "edge"))
    decode_hints = hint_mode in ("encoded_decoded", "decoded_only")

    def loss_terms(params, key):
        out, hint_preds = network.apply(params, key, features, False)
        terms = {}
        for truth in outputs:
            terms[truth.name] = losses.output_loss(truth, out[truth.name], nb_nodes)
        if decode_hints:
            for truth in hints:
                terms[truth.name] = losses.hint_loss(
                    truth, [h[truth.name] for h in hint_preds], lengths, nb_nodes
                )
        return terms, (out, hint_preds)

    def total(params, key):
        terms, _ = loss_terms(params, key)
        return sum(terms.values())

    result = {}
    for module, values in params.items():
        for name, value in values.items():
            result[f"param/{module}/{name}"] = np.asarray(value)
    key = jax.random.PRNGKey(job["seed"] + 1)
    for prefix, repred in (("eval", True), ("train", False)):
        out, hint_preds = network.apply(params, key, features, repred)
        for name, value in out.items():
            result[f"{prefix}_out/{name}"] = np.asarray(value)
        if hint_preds:
            for name in hint_preds[0]:
                result[f"{prefix}_hint/{name}"] = np.stack(
                    [np.asarray(h[name]) for h in hint_preds]
                )
    terms, _ = loss_terms(params, key)
    for name, value in terms.items():
        result[f"loss/{name}"] = np.asarray(value)
    grads = jax.grad(total)(params, key)
    for module, values in grads.items():
        for name, value in values.items():
            result[f"grad/{module}/{name}"] = np.asarray(value)
    return result


KINDS = {
    "sinkhorn": sinkhorn,
    "output_loss": output_loss,
    "hint_loss": hint_loss,
    "evaluate": evaluate,
    "net": net,
}


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        arrays = KINDS[job["kind"]](job)
        path = os.path.join(sys.argv[2], job["name"] + ".npz")
        with open(path + ".partial", "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(path + ".partial", path)


if __name__ == "__main__":
    main()
