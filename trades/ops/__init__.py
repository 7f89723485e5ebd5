"""Running flowsite on one machine: the demo's process supervisor and the pipeline benchmark."""
