"""The JSON API's request and response models (OpenAPI documents them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..schema import FLAGS, METRIC_TYPES
from .common import INT_MAX, NOTE_MAX
from .decisions import BULK_MAX, Decision

MetricType = Literal[tuple(METRIC_TYPES)]  # type: ignore[valid-type]
Choice = Literal[0, 1, "model"]


class DecisionIn(BaseModel):
    """审核员对一行的判断：四个问题标记、两种指标值类型、备注，以及判断所依据的行版本（来自 GET /api/rows/{row_id}）。"""

    model_config = ConfigDict(extra="forbid")
    base_version: int = Field(ge=0, le=INT_MAX, description="审核员看到的行版本")
    vague: Literal[0, 1]
    boilerplate: Literal[0, 1]
    category_mismatch: Literal[0, 1]
    unmeasurable: Literal[0, 1]
    metric_type: MetricType
    suggested_metric_type: MetricType
    note: str = Field("", max_length=NOTE_MAX)

    def to_service(self) -> Decision:
        return Decision(base_version=self.base_version, flags={f: getattr(self, f) for f in FLAGS},
                        metric_type=self.metric_type, suggested_metric_type=self.suggested_metric_type, note=self.note)


class RowDecisionIn(DecisionIn):
    row_id: str = Field(min_length=1, max_length=64)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decisions: list[RowDecisionIn] = Field(min_length=1, max_length=1000)


class UndoIn(BaseModel):
    """撤销自己的一次保存（此后无人再保存该行时）。"""

    model_config = ConfigDict(extra="forbid")
    decision_id: int = Field(ge=1, le=INT_MAX)


class BulkIn(BaseModel):
    """给筛选结果中的每一行同一个判断；各标记取 0、1 或 "model"（沿用模型预测）。"""

    model_config = ConfigDict(extra="forbid")
    expected: int = Field(ge=1, le=BULK_MAX, description="确认过的行数：筛选结果行数不同则拒绝")
    vague: Choice = "model"
    boilerplate: Choice = "model"
    category_mismatch: Choice = "model"
    unmeasurable: Choice = "model"
    metric_type: MetricType | Literal["model"] = "model"
    suggested_metric_type: MetricType | Literal["model"] = "model"
    note: str = Field("", max_length=NOTE_MAX)

    def template(self) -> dict:
        return {k: getattr(self, k) for k in (*FLAGS, "metric_type", "suggested_metric_type")}


class SaveOut(BaseModel):
    row_id: str
    version: int
    status: str
    decision_id: int
    decided_by: str
    decided_at: str


class UndoOut(BaseModel):
    row_id: str
    version: int
    status: str
    decision_id: int
    undid: int


class ConflictOut(BaseModel):
    detail: str
    current: dict
