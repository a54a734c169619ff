"""Running as several processes and machines: the backend's workers (`workers`) and jobs
that one process of the whole cluster runs per interval (`once`)."""
