"""Application Auto Scaling: DynamoDB table/index capacity and Lambda provisioned concurrency."""
