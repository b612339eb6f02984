"""Label Studio round trip: the labeling config, tasks with the model's predictions, and
reading a Label Studio JSON export back as annotation lines (``schema.ANNOTATION_COLUMNS``).

Tasks carry every row field under ``data`` plus ``text`` (the row laid out for reading) and
``row_id``. Each flag is a single-choice ``Choices`` named after the flag with the values "1"
(has the defect) and "0"; ``metric_type`` and ``suggested_metric_type`` choose among
schema.METRIC_TYPES; the free-text ``note`` becomes ``note_A``.

Reading an export (the "JSON" export: a list of tasks each with ``annotations``), every
annotation that was not cancelled becomes one line; a label the annotator left unset takes the
task's prediction (the confirmed model decision) and, failing that, is an error naming the task.
The "JSON-MIN" export (one flat object per annotation) is read too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .errors import InputError
from .schema import ANNOTATION_COLUMNS, FLAG_LABELS, FLAG_MEANINGS, FLAGS, METRIC_TYPE_LABELS, METRIC_TYPES
from .schema import LABEL_FIELDS as LABELS

#: what the annotator is asked per flag: its name and the meaning the report shows reviewers
FLAG_TITLES = {flag: f"{FLAG_LABELS[flag]} {flag}：{FLAG_MEANINGS[flag]}" for flag in FLAGS}
METRIC_TYPE_TITLES = {t: f"{METRIC_TYPE_LABELS[t]} {t}" for t in METRIC_TYPES}
DATA_FIELDS = [
    "row_id", "doc", "source_path", "doc_id", "department", "year", "project_code", "project_name", "project_budget",
    "fund_use", "project_goals", "level1", "level2", "name", "description", "value", "basis", "location", "reasons",
    "suggestion",
]


def _choices(name: str, title: str, values: dict[str, str]) -> str:
    items = "\n".join(f'      <Choice value="{value}" hint="{hint}"/>' for value, hint in values.items())
    return (
        f'    <Header value="{title}"/>\n'
        f'    <Choices name="{name}" toName="text" choice="single" showInline="true" required="false">\n{items}\n    </Choices>'
    )


def _labeling_config() -> str:
    flags = "\n".join(_choices(f, FLAG_TITLES[f], {"1": "是（有此问题）", "0": "否"}) for f in FLAGS)
    types = {t: METRIC_TYPE_TITLES[t] for t in METRIC_TYPES}
    return f"""<View>
  <Header value="$project_name（$department，$year）"/>
  <Text name="context" value="$context"/>
  <Text name="text" value="$text"/>
  <View style="display: grid; grid-template-columns: 1fr 1fr; column-gap: 2em">
{flags}
  </View>
{_choices("metric_type", "指标值类型（按所写）metric_type", types)}
{_choices("suggested_metric_type", "建议指标值类型 suggested_metric_type", types)}
  <Header value="备注 note"/>
  <TextArea name="note" toName="text" rows="3" maxSubmissions="1" editable="true"/>
</View>
"""


#: The Label Studio labeling config for budgetnlp tasks (``budgetnlp review labelstudio-config``).
LABELING_CONFIG = _labeling_config()


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _row_text(row: dict) -> str:
    return "\n".join([
        f"一级指标：{_text(row.get('level1'))}　二级指标：{_text(row.get('level2'))}",
        f"三级指标：{_text(row.get('name'))}",
        f"指标描述：{_text(row.get('description'))}",
        f"指标值：{_text(row.get('value'))}",
        f"确定依据：{_text(row.get('basis'))}",
    ])


def _context_text(row: dict) -> str:
    budget = row.get("project_budget")
    return "\n".join([
        f"项目：{_text(row.get('project_name'))}（{_text(row.get('project_code'))}）　预算数：{_text(budget)} 万元",
        f"资金用途：{_text(row.get('fund_use'))}",
        f"绩效目标：{_text(row.get('project_goals'))}",
    ])


def task_from_row(row: dict) -> dict:
    """A scored row (a dict with the row and scored columns) → one Label Studio task with predictions."""
    data = {k: (None if row.get(k) is None else (row[k] if isinstance(row.get(k), (int, float)) else _text(row.get(k))))
            for k in DATA_FIELDS if k in row}
    if "doc" not in data:
        data["doc"] = Path(_text(row.get("source_path"))).name
    data["text"] = _row_text(row)
    data["context"] = _context_text(row)
    result = []
    for label in LABELS:
        value = row.get(label)
        if value is None or value == "":
            continue
        choice = str(int(float(value))) if label in FLAGS else str(value)
        item = {"from_name": label, "to_name": "text", "type": "choices", "value": {"choices": [choice]}}
        if label in FLAGS and row.get(f"p_{label}") is not None:
            item["score"] = float(row[f"p_{label}"])
        result.append(item)
    prediction = {"model_version": _text(row.get("model")) or "budgetnlp", "result": result}
    if row.get("risk") is not None:
        prediction["score"] = float(row["risk"])
    return {"data": data, "predictions": [prediction]}


def tasks_from_frame(frame: pd.DataFrame) -> list[dict]:
    """A scored table → Label Studio tasks."""
    return [task_from_row(r) for r in frame.astype(object).where(frame.notna(), None).to_dict("records")]


# ---------------------------------------------------------------- reading an export back
def _choices_of(result: list) -> dict:
    out = {}
    for item in result or []:
        if not isinstance(item, dict):
            continue
        name, value = item.get("from_name"), item.get("value") or {}
        if item.get("type") == "textarea" or "text" in value:
            text = value.get("text")
            out[name] = "\n".join(text) if isinstance(text, list) else _text(text)
        elif "choices" in value and value["choices"]:
            out[name] = str(value["choices"][0])
    return out


def _annotator(completed_by) -> str:
    if isinstance(completed_by, dict):
        return _text(completed_by.get("email") or completed_by.get("username") or completed_by.get("id"))
    return f"labelstudio:{completed_by}" if isinstance(completed_by, int) else _text(completed_by)


def _line(path: Path, task_ref: str, data: dict, labels: dict, predicted: dict, note: str, who: str, when: str) -> dict:
    line = {c: "" for c in ANNOTATION_COLUMNS}
    doc = _text(data.get("doc")) or Path(_text(data.get("source_path"))).name
    year = data.get("year")
    line.update(
        doc=doc, department=_text(data.get("department")),
        year="" if year in (None, "") else str(int(float(year))) if str(year).replace(".", "", 1).isdigit() else str(year),
        project_code=_text(data.get("project_code")), project=_text(data.get("project") or data.get("project_name")),
        **{c: _text(data.get(c)) for c in ("level1", "level2", "name", "description", "value", "basis")},
        note_A=note, decided_by=who, decided_at=when,
    )
    for label in LABELS:
        value = labels.get(label, predicted.get(label, ""))
        if label in FLAGS:
            if value not in ("0", "1"):
                raise InputError(path, f"{label} is {value or 'unset'} and no prediction fills it: choose 1 or 0", task_ref)
        elif value and value not in METRIC_TYPES:
            raise InputError(path, f"{label} {value!r} is not one of {', '.join(METRIC_TYPES)}", task_ref)
        line[label] = value
        line[f"{label}_votes"] = labels.get(label, "")
    return line


def read_labelstudio_export(path) -> pd.DataFrame:
    """A Label Studio export (JSON or JSON-MIN) → one annotation line per completed annotation."""
    path = Path(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a Label Studio JSON export ({exc})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(path, "not a Label Studio JSON export: expected a list of tasks")
    lines = []
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise InputError(path, "a task is not a JSON object", f"task {index}")
        ref = f"task {task.get('id', index)}"
        if "data" in task:  # the full JSON export
            data = task["data"] or {}
            predicted = {}
            for prediction in task.get("predictions") or []:
                predicted.update(_choices_of(prediction.get("result") if isinstance(prediction, dict) else []))
            for annotation in task.get("annotations") or []:
                if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                    continue
                labels = _choices_of(annotation.get("result"))
                note = labels.pop("note", "")
                labels = {k: v for k, v in labels.items() if k in LABELS}
                when = _text(annotation.get("updated_at") or annotation.get("created_at"))
                lines.append(_line(path, ref, data, labels, predicted, note, _annotator(annotation.get("completed_by")), when))
        else:  # JSON-MIN: the task's data and the chosen values side by side
            labels = {k: _text(task[k]) for k in LABELS if _text(task.get(k))}
            who = _annotator(task.get("annotator") or task.get("completed_by"))
            when = _text(task.get("updated_at") or task.get("created_at"))
            lines.append(_line(path, ref, task, labels, {}, _text(task.get("note")), who, when))
    return pd.DataFrame(lines, columns=ANNOTATION_COLUMNS)
