"""The Gradio app over kb.api.KnowledgeBase (see ui/app.py)."""
