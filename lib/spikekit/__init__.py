"""spikekit: the helper library behind Spike Playbook's chapter notebooks (``import spikekit as sk``)."""
__version__ = "0.1.0"
