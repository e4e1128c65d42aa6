"""Grade learner submissions against the pristine kata suites (``katas grade``)."""
