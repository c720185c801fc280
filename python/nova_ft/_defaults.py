"""Constants the command line needs before anything heavy is imported."""

#: The tutorial's fine-tuning base (listed for provisioned inference only; nova_ft maps it to
#: the on-demand id for inference).
DEFAULT_BASE_MODEL = "amazon.nova-micro-v1:0:128k"

#: Regions that serve on-demand deployments of customized Nova models.
ON_DEMAND_CUSTOM_MODEL_REGIONS = ("us-east-1", "us-west-2")

#: The credentials the emulator accepts unless told otherwise: the usual local-emulator
#: convention, so scripts that set ``AWS_ACCESS_KEY_ID=test`` work unchanged.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"

#: A Converse call's ``maxTokens`` and ``temperature`` unless given: room for a label or a
#: query, and greedy answers, so a benchmark is repeatable.
CONVERSE_MAX_TOKENS = 512
CONVERSE_TEMPERATURE = 0.0
