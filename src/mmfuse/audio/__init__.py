"""Audio features: reading clips, clean-up filters, MFCC frames as descriptor sets."""

from mmfuse.audio._filters import bandpass_filter, reduce_noise
from mmfuse.audio._mfcc import MFCCExtractor
from mmfuse.io import read_audio

__all__ = ["MFCCExtractor", "bandpass_filter", "read_audio", "reduce_noise"]
