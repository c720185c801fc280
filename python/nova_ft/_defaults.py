"""Constants the command line needs before anything heavy is imported."""

#: The tutorial's fine-tuning base (listed for provisioned inference only; nova_ft maps it to
#: the on-demand id for inference).
DEFAULT_BASE_MODEL = "amazon.nova-micro-v1:0:128k"

#: The credentials the emulator accepts unless told otherwise: the usual local-emulator
#: convention, so scripts that set ``AWS_ACCESS_KEY_ID=test`` work unchanged.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"
