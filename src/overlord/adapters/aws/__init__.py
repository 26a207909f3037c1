"""AWS adapters: S3, DynamoDB, Secrets Manager, Batch, EventBridge and friends, through boto3.

Each adapter imports boto3/aioboto3 only when it is constructed, so importing this package (as
the Lambda API path does) costs nothing until an AWS adapter is actually built.
"""
