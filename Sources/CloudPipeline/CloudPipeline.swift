// CloudPipeline: SigV4-signed S3, SQS and EC2 clients, the embedded local backends (directory
// object store, SQLite queue), and the worker and auto-scaler logic.
