"""Training on rented GPUs: ``job.py`` (the job, plain Python) and ``modal_app.py`` (Modal)."""
