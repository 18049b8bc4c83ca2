"""A claim of the Paper tab as a record: where the paper makes it, the paper's number and ours, and a status
(one of STATUSES, each with its meaning), in one of GROUPS."""
from __future__ import annotations

import dataclasses
from typing import Any

STATUSES = ("reproduced", "partly", "inconclusive here", "not reproduced", "quoted", "counted")
MEANING = {
    "reproduced": "our measurement shows what the paper's words claim, every difference beyond its noise",
    "partly": "part of the claim shows beyond noise; the sentence names the part that does not, or is within noise",
    "inconclusive here": "our measurement cannot decide it at this scale (differences within noise, or a "
                         "measurement that does not test the claim); the sentence says why",
    "not reproduced": "our measurement goes against the claim beyond its noise",
    "quoted": "not reproducible here (ImageNet training, detection): the paper's number, and published ones beside "
              "it where they exist",
    "counted": "arithmetic on the architecture, counted from the modules: it agrees with the paper's number",
}
GROUPS = {"paper": "The paper's experiments", "followup": "The follow-up paper: He et al. 2016, Identity Mappings",
          "later": "Later papers that test it", "counted": "Counted facts"}
@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the Paper tab: where the paper makes it, its words, its number and ours, our status (one of
    STATUSES) and why, and the tab that explores it."""
    id: str
    group: str          # one of GROUPS
    section: str        # where in the paper (or the later paper)
    claim: str
    paper: Any          # the paper's number(s) or words
    ours: Any           # ours, computed from the stored files
    status: str         # one of STATUSES
    why: str
    tab: str
    unit: str | None = None
    paper_unit: str | None = None  # where the paper's numbers measure something else than ours

    def __post_init__(self) -> None:
        if self.status not in STATUSES or self.group not in GROUPS:
            raise ValueError(f"claim {self.id}: status {self.status!r}, group {self.group!r}")

    def json(self) -> dict[str, Any]:
        """What /paper answers for this claim (the units only where there are any)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None or k not in ("unit", "paper_unit")}
