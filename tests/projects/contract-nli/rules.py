def pick(score, threshold, labels):
    return labels[0] if score >= threshold else labels[1]
