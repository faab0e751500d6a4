"""Class lists shared by the dataset registry and the embedded datasets that build them."""

DIGIT_CLASSES = tuple(str(i) for i in range(10))
