"""pip on this machine: the Lambda deployment package, built for the Lambda runtime."""
