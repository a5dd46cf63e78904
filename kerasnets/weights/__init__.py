"""Published PyTorch checkpoints read as numpy arrays (`readers`) and copied onto the
Keras layers (`transfer`); each family's mapping lives in its own module here."""
