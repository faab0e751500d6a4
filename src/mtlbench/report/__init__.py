"""Report: tables (Markdown, LaTeX, CSV), metrics for DVC, figures."""
