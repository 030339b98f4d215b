"""Reply classification: the decision (hard, soft, bounce, local) and category."""

from postline.bounces.classify import Verdict, classify

__all__ = ["Verdict", "classify"]
