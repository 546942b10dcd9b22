"""Fixtures of the file sensor tests (``file_sensor_support``): a moto S3 server and a GCS
emulator for the session, the AWS environment pointed at moto, and unique bucket names."""

from file_sensor_support import bucket_name, gcs_emulator, moto_server, s3_env  # noqa: F401
