"""Measuring readings: scores against labels (edit distance, exact match, box matching) and the
report pictures of a trained model (training curves, confusion matrix, misclassified digits).
"""
