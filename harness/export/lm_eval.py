"""Export scoring requests as an lm-evaluation-harness task, to cross-check any model with lm-eval.

The task folder holds ``<task>.yaml``, ``<task>.jsonl`` (one doc per
(request, candidate) prompt) and ``utils.py`` (a copy of
:mod:`harness.export.lm_eval_task_utils`: the doc loader and the grouped ranking
metrics). Run it with ``lm_eval --include_path <folder> --tasks <task>``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from harness.export import lm_eval_task_utils
from harness.llm.scoring import ScoringRequest

_TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def write_lm_eval_task(
    requests: Sequence[tuple[str, ScoringRequest, int]],
    out_dir: Path,
    task_name: str,
    *,
    yes: str = " yes",
    no: str = " no",
) -> Path:
    """Write the task for ``(request_id, request, index of the positive continuation)`` triples.

    Each candidate prompt ``prefix + continuation`` becomes a multiple-choice
    doc with choices "no"/"yes"; the answers' leading whitespace becomes the
    task's ``target_delimiter``, so lm-eval scores exactly the tokens
    :func:`~harness.llm.scoring.score_yes_no` reads with the same ``yes``/``no``.
    Returns ``out_dir`` (several tasks may share it).
    """
    if not _TASK_NAME.match(task_name):
        raise ValueError(f"task name {task_name!r}: use letters, digits, '_', '-', '.'")
    delimiter = _shared_delimiter(yes, no)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = f"{task_name}.jsonl"
    with open(out_dir / data_file, "w", encoding="utf-8") as f:
        for doc in _docs(requests):
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    shutil.copyfile(lm_eval_task_utils.__file__, out_dir / "utils.py")
    choices = [no[len(delimiter) :], yes[len(delimiter) :]]
    (out_dir / f"{task_name}.yaml").write_text(
        _task_yaml(task_name, data_file, choices, delimiter), encoding="utf-8"
    )
    return out_dir


def _docs(requests: Sequence[tuple[str, ScoringRequest, int]]):
    seen: set[str] = set()
    for request_id, request, positive in requests:
        if request_id in seen:
            raise ValueError(f"duplicate request id {request_id!r}")
        seen.add(request_id)
        if not 0 <= positive < len(request.continuations):
            raise ValueError(
                f"request {request_id!r}: positive index {positive} is outside its "
                f"{len(request.continuations)} continuations"
            )
        for candidate, continuation in enumerate(request.continuations):
            yield {
                "request_id": str(request_id),
                "candidate": candidate,
                "prompt": request.prefix + continuation,
                "label": int(candidate == positive),
            }


def _shared_delimiter(yes: str, no: str) -> str:
    """The answers' common leading whitespace (lm-eval puts it between prompt and choice)."""
    lead_yes = yes[: len(yes) - len(yes.lstrip())]
    lead_no = no[: len(no) - len(no.lstrip())]
    if lead_yes != lead_no or not yes.strip() or not no.strip():
        raise ValueError(
            f"answers {yes!r} and {no!r} must be non-blank with the same leading whitespace"
        )
    return lead_yes


def _task_yaml(task_name: str, data_file: str, choices: list[str], delimiter: str) -> str:
    metrics = "".join(
        f"  - metric: {json.dumps(metric)}\n"
        f"    aggregation: !function utils.{metric.replace('@', '_at_')}\n"
        "    higher_is_better: true\n"
        for metric in lm_eval_task_utils.METRICS
    )
    # JSON strings are valid YAML scalars, so json.dumps quotes every user-provided value safely.
    return (
        f"task: {json.dumps(task_name)}\n"
        "custom_dataset: !function utils.load_docs\n"
        f"dataset_kwargs:\n  data_file: {json.dumps(data_file)}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: prompt\n"
        "doc_to_target: label\n"
        f"doc_to_choice: {json.dumps(choices)}\n"
        f"target_delimiter: {json.dumps(delimiter)}\n"
        "process_results: !function utils.process_results\n"
        f"metric_list:\n{metrics}"
        "metadata:\n  version: 1.0\n"
    )
