"""Acceptance programs: real PyTorch training scripts run unchanged with `import adjit as torch`."""
