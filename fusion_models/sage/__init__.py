"""The SAGE family (Wu et al., CVPR 2025, "Every SAM Drop Counts") in one home:

* :mod:`.student` - the 0.136 M-parameter student (``sage_student``) and the paper's facts;
* :mod:`.teacher` - the teacher with Semantic Persistent Attention (``sage_teacher``);
* :mod:`.attention` - the attention blocks the teacher uses;
* :mod:`.sam_priors` - SAM models, automatic masks and their cache, the SAM feature encoder;
* :mod:`.training` - losses, switches/presets, data pipeline and the distillation trainer
  (``sagebench train``; imported on demand, not at registration).
"""

from sagebench.fusion_models.sage import student, teacher  # noqa: F401  (registration)
from sagebench.fusion_models.sage.student import SAGE_PAPER, SAGEStudent, SAGEStudentNet
from sagebench.fusion_models.sage.teacher import SAGETeacher, SAGETeacherNet

__all__ = ["SAGE_PAPER", "SAGEStudent", "SAGEStudentNet", "SAGETeacher", "SAGETeacherNet"]
