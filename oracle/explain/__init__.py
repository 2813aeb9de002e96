"""Explanations and what people read: terminal summaries, SHAP attributions, reports."""
