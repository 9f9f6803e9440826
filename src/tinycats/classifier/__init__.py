"""The breed classifier: EfficientNet-Lite backbone + 13-way head + class-activation map."""
