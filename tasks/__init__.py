"""One Prefect task per pipeline phase, thin over engine/ and infra/."""
