"""The nightly services the DAG tasks call: scrub and send (outbound), fetch and load (inbound), the
exchange with clearinghouses, the pipeline functions each task wraps, scale-out."""
