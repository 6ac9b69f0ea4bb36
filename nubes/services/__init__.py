"""The services nubes implements: botocore service name -> provider class (module:Class).

Each service lives in its own package; providers are imported when the server starts.
"""

PROVIDERS: dict[str, str] = {
    "sqs": "nubes.services.sqs.provider:SqsProvider",
    "sns": "nubes.services.sns.provider:SnsProvider",
    "s3": "nubes.services.s3.provider:S3Provider",
    "dynamodb": "nubes.services.dynamodb.provider:DynamoDBProvider",
    "dynamodbstreams": "nubes.services.dynamodbstreams.provider:DynamoDBStreamsProvider",
    "iam": "nubes.services.iam.provider:IamProvider",
    "sts": "nubes.services.sts.provider:StsProvider",
    "logs": "nubes.services.logs.provider:LogsProvider",
    "lambda": "nubes.services.lambda_.provider:LambdaProvider",
    "cloudwatch": "nubes.services.cloudwatch.provider:CloudWatchProvider",
    "events": "nubes.services.events.provider:EventsProvider",
    "scheduler": "nubes.services.scheduler.provider:SchedulerProvider",
    "route53": "nubes.services.route53.provider:Route53Provider",
    "ec2": "nubes.services.ec2.provider:Ec2Provider",
    "autoscaling": "nubes.services.autoscaling.provider:AutoScalingProvider",
    "application-autoscaling": (
        "nubes.services.application_autoscaling.provider:ApplicationAutoScalingProvider"
    ),
    "elbv2": "nubes.services.elbv2.provider:Elbv2Provider",
    "acm": "nubes.services.acm.provider:AcmProvider",
    "elb": "nubes.services.elb.provider:ElbProvider",
    "cloudformation": "nubes.services.cloudformation.provider:CloudFormationProvider",
    "kms": "nubes.services.kms.provider:KmsProvider",
    "ssm": "nubes.services.ssm.provider:SsmProvider",
    "secretsmanager": "nubes.services.secretsmanager.provider:SecretsManagerProvider",
    "apigateway": "nubes.services.apigateway.provider:ApiGatewayProvider",
    "apigatewayv2": "nubes.services.apigatewayv2.provider:ApiGatewayV2Provider",
    "apigatewaymanagementapi": (
        "nubes.services.apigatewaymanagementapi.provider:ApiGatewayManagementApiProvider"
    ),
    "ecr": "nubes.services.ecr.provider:EcrProvider",
    "stepfunctions": "nubes.services.stepfunctions.provider:StepFunctionsProvider",
    "kinesis": "nubes.services.kinesis.provider:KinesisProvider",
    "cognito-idp": "nubes.services.cognito_idp.provider:CognitoIdpProvider",
    "firehose": "nubes.services.firehose.provider:FirehoseProvider",
    "elasticache": "nubes.services.elasticache.provider:ElastiCacheProvider",
    "rds": "nubes.services.rds.provider:RdsProvider",
}
