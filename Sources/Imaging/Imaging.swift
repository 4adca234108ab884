// Imaging: PNG / JPEG in and out, grayscale, resize.
