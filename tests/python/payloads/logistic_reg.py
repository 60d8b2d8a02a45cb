# Logistic regression in the MesaPy style (Teaclave's
# mesapy_logistic_reg_payload, written again from its description): rows of
# comma-separated floats, the label last; features min-max scaled; batch
# gradient descent, learning rate 0.05, 2000 iterations; the model and the
# scaler saved with marshal. Arguments: operation (train | predict),
# train_file or predict_file, params_saved, scaler_saved (file ids).
from teaclave import open
import _numpypy as np
import marshal
import math

LEARNING_RATE = 0.05
ITERATIONS = 2000


def read_rows(file_id):
    with open(file_id, "rb") as f:
        return [[float(x) for x in line.split(b",")] for line in f if line.strip()]


def scale(rows, low, high):
    out = []
    for row in rows:
        out.append([(v - lo) / (hi - lo) if hi > lo else 0.0 for v, lo, hi in zip(row, low, high)])
    return np.multiarray.array(out)


def sigmoid(z):
    return 1.0 / (1.0 + np.umath.exp(-z))


def train(args):
    rows = read_rows(args["train_file"])
    features = [row[:-1] for row in rows]
    labels = np.multiarray.array([row[-1] for row in rows])
    low = [min(col) for col in zip(*features)]
    high = [max(col) for col in zip(*features)]
    x = scale(features, low, high)
    weights = np.multiarray.zeros(x.shape[1])
    bias = 0.0
    n = float(len(rows))
    for _ in range(ITERATIONS):
        error = sigmoid(x.dot(weights) + bias) - labels
        weights = weights - LEARNING_RATE * x.T.dot(error) / n
        bias -= LEARNING_RATE * float(error.sum()) / n
    loss = -float((labels * np.umath.log(sigmoid(x.dot(weights) + bias) + 1e-12)).sum()) / n
    assert not math.isnan(loss)
    with open(args["params_saved"], "wb") as f:
        f.write(marshal.dumps([float(w) for w in weights] + [bias]))
    with open(args["scaler_saved"], "wb") as f:
        f.write(marshal.dumps([low, high]))
    return "Training is finished!"


def predict(args):
    with open(args["params_saved"], "rb") as f:
        params = marshal.loads(f.read())
    with open(args["scaler_saved"], "rb") as f:
        low, high = marshal.loads(f.read())
    x = scale(read_rows(args["predict_file"]), low, high)
    weights = np.multiarray.array(params[:-1])
    p = sigmoid(x.dot(weights) + params[-1])
    result = np.multiarray.zeros(len(p))
    result[p >= 0.5] = 1.0
    return str(result)


def entrypoint(argv):
    args = dict(zip(argv[0::2], argv[1::2]))
    if args["operation"] == "train":
        return train(args)
    return predict(args)
