#!/usr/bin/python3
"""Every built-in function the way a user runs it, on a real platform.

Through the frontend with a Teaclave-style gRPC client (tests/compat's),
each built-in runs inside the real sandbox of an execution node on
Teaclave's fixtures, served over HTTP by the platform's file server and
encrypted the way teaclave-functions.md §3.4 lists them: the committed
teaclave-file-128 .enc files and train.aes_gcm_128 as they are, the
fixtures that have no encrypted twin encrypted here with `steep file
encrypt` (teaclave-file-128 and aes-gcm-256), the password as Teaclave's
inline data: URL. Outputs are teaclave-file-128 files the function writes
and the platform uploads; the test decrypts them and compares them byte for
byte with the fixtures.

Then the limits: a 3 MiB echo message reaches its function and comes back,
a 5 MiB one is refused naming both sizes; and malformed inputs (NaN,
infinities, empty files, ragged rows, gigantic dimension arguments, inputs
over the function's memory limit) fail their own task with a precise reason
while a normal task submitted with them finishes.

Environment: as tests/compat/teaclave_client.py, plus STEEP_BIN.
"""
import json
import os
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import teaclave_client as tc  # noqa: E402

FIXTURES = "fixtures/functions"
STEEP = os.path.join(os.environ["STEEP_BIN"], "steep")
ZERO = "00" * 16
RUN = str(time.time_ns())
MIB = 1024 * 1024
# Responses may carry a task's arguments and its result (GetTask).
BIG = [("grpc.max_receive_message_length", 16 * MIB), ("grpc.max_send_message_length", 16 * MIB)]


def check(name, condition, detail=""):
    tc.check(name, condition, detail if len(str(detail)) < 2000 else str(detail)[:2000] + "...")


def fixture(rel):
    with open(os.path.join(tc.FILES_DIR, FIXTURES, rel), "rb") as f:
        return f.read()


def encrypt(rel, scheme="teaclave-file-128", data=None, name=None):
    """A plaintext fixture (or data) encrypted into FILES_DIR/inputs/RUN;
    returns (path relative to FILES_DIR, key, iv, cmac)."""
    directory = os.path.join(tc.FILES_DIR, "inputs", RUN)
    os.makedirs(directory, exist_ok=True)
    name = name or os.path.basename(rel)
    plain = os.path.join(directory, name + ".plain")
    with open(plain, "wb") as f:
        f.write(fixture(rel) if data is None else data)
    out = os.path.join(directory, name)
    command = [STEEP, "file", "encrypt", "--scheme", scheme, "--key"]
    command += [ZERO] if scheme == "teaclave-file-128" else ["random", "--iv", "random"]
    done = subprocess.run(command + [plain, out], check=True, capture_output=True, text=True)
    printed = done.stdout + done.stderr  # the cmac on stdout, a drawn key and iv on stderr
    values = dict(line.split(None, 1) for line in printed.splitlines() if line.strip())
    key = bytes.fromhex(values.get("key:", ZERO).strip())
    iv = bytes.fromhex(values["iv:"].strip()) if "iv:" in values else b""
    return ("inputs/%s/%s" % (RUN, name), key, iv, bytes.fromhex(values["cmac"].strip()))


def decrypt(rel):
    """A teaclave-file-128 output (key 0) the platform uploaded, decrypted."""
    source = os.path.join(tc.FILES_DIR, rel)
    directory = os.path.join(tc.FILES_DIR, "decrypted", RUN, os.path.basename(os.path.dirname(rel)))
    os.makedirs(directory, exist_ok=True)
    out = os.path.join(directory, os.path.basename(rel))
    subprocess.run([STEEP, "file", "decrypt", "--scheme", "teaclave-file-128", "--key", ZERO,
                    "--quiet", source, out], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


class Task:
    """One task of one user: register the function, its files, run it."""

    def __init__(self, client, uid, name, arguments, args, inputs=(), outputs=(), label=None):
        self.client, self.label = client, label or name
        function_id = client.register_function(name, arguments=list(arguments),
                                               inputs=[n for n, _ in inputs],
                                               outputs=list(outputs))
        self.task_id = client.create_task(function_id, args,
                                          inputs=[(n, [uid]) for n, _ in inputs],
                                          outputs=[(n, [uid]) for n in outputs])
        self.outputs = {}
        mapped_inputs, mapped_outputs = [], []
        for n, spec in inputs:
            mapped_inputs.append((n, client.input_file(**spec)))
        for n in outputs:
            rel = "outputs/%s/%s/%s" % (RUN, self.task_id, n + ".enc")
            os.makedirs(os.path.join(tc.FILES_DIR, os.path.dirname(rel)), exist_ok=True)
            self.outputs[n] = rel
            mapped_outputs.append((n, client.output_file(rel)))
        if mapped_inputs or mapped_outputs:
            client.assign(self.task_id, mapped_inputs, mapped_outputs)
        client.approve(self.task_id)
        client.invoke(self.task_id)

    def result(self):
        """(return value, None) or (None, failure reason)."""
        try:
            return self.client.result(self.task_id), None
        except RuntimeError as error:
            return None, str(error)

    def output(self, name):
        return decrypt(self.outputs[name])


def plain_input(rel, scheme="teaclave-file-128", data=None, name=None):
    path, key, iv, cmac = encrypt(rel, scheme, data, name)
    return {"rel": path, "schema": scheme, "key": key, "iv": iv, "cmac": cmac}


def committed(rel, schema="teaclave-file-128", iv=b"", cmac=None):
    """A committed encrypted fixture (§3.4), used as it is."""
    return {"rel": "%s/%s" % (FIXTURES, rel), "schema": schema, "iv": iv, "cmac": cmac}


GBDT_ARGS = {"feature_size": 4, "max_depth": 4, "iterations": 100, "shrinkage": 0.1,
             "feature_sample_ratio": 1.0, "data_sample_ratio": 1.0, "min_leaf_size": 1,
             "loss": "LAD", "training_optimization_level": 2}
LR_ARGS = {"alg_alpha": 0.3, "alg_iters": 100, "feature_size": 30}
PCA_ARGS = {"n": 2, "center": True, "feature_size": 4}


# ---- each built-in on its fixture ---------------------------------------------------------------
# A case submits its task(s) and returns a function that checks the outcome,
# so all tasks run on the platform's slots at once.

def echo(c, uid):
    task = Task(c, uid, "builtin-echo", ["message"], {"message": "Hello, Teaclave!"})
    return lambda: expect(task, b"Hello, Teaclave!")


def ordered_set_intersect(c, uid):
    task = Task(c, uid, "builtin-ordered-set-intersect", ["order"], {"order": "ascending"},
                inputs=[("input_data1", committed("ordered_set_intersect/psi0.txt.enc")),
                        ("input_data2", committed("ordered_set_intersect/psi1.txt.enc"))],
                outputs=["output_result1", "output_result2"])
    return lambda: expect(task, b"3 common items", {"output_result1": b"0101010",
                                                   "output_result2": b"01101"})


def ordered_set_join(c, uid):
    task = Task(c, uid, "builtin-ordered-set-join",
                ["left_column", "right_column", "ascending", "drop"],
                {"left_column": 0, "right_column": 0, "ascending": True, "drop": True},
                inputs=[("input_data1", committed("ordered_set_join/join0.csv.enc")),
                        ("input_data2", committed("ordered_set_join/join1.csv.enc"))],
                outputs=["output_result"])
    # §1.3: the joined rows are gbdt_training/train.txt (which has no final newline).
    return lambda: expect(task, b"120 records",
                          {"output_result": fixture("gbdt_training/train.txt").rstrip(b"\n")
                           + b"\n"})


def private_join_and_compute(c, uid):
    banks = ("bank_a", "bank_b", "bank_c")
    task = Task(c, uid, "builtin-private-join-and-compute", ["num_user"], {"num_user": 3},
                inputs=[("input_data%d" % i, committed(
                    "private_join_and_compute/three_party_data/%s.enc" % b))
                    for i, b in enumerate(banks)],
                outputs=["output_data%d" % i for i in range(3)])

    def verify():
        value, reason = task.result()
        check("private-join-and-compute returns its summary",
              value == b"3 users join the task in total.", reason or value)
        if reason is None:
            outputs = [task.output("output_data%d" % i) for i in range(3)]
            # The rows come in HashMap order (unspecified in Teaclave), so as a set.
            check("private-join-and-compute: every party gets the same common set",
                  all(sorted(o.splitlines()) == [b"c, 470000", b"e, 5033000"] for o in outputs)
                  and all(o.endswith(b"\n") for o in outputs), outputs)
    return verify


def password_check(c, uid):
    task = Task(c, uid, "builtin-password-check", [], {},
                inputs=[("password", {"rel": None, "schema": "aes-gcm-128", "key": bytes(16),
                                      "iv": bytes(12),
                                      "cmac": bytes.fromhex("e84748f7ad380e183062b9b4b3942b7d"),
                                      "url": "data:text/plain;base64,"
                                             "c+mpvRfZ0fboR0j3rTgOGDBiubSzlCt9"}),
                        ("exposed_passwords",
                         committed("password_check/exposed_passwords.txt.enc"))])
    return lambda: expect(task, b"true")


def rsa_sign(c, uid):
    task = Task(c, uid, "builtin-rsa-sign", ["data"], {"data": "test data"},
                inputs=[("rsa_key", committed("rsa_sign/rsakey.enc"))])
    return lambda: expect(task, fixture("rsa_sign/expected_rsasign.txt").strip())


def online_decrypt(c, uid):
    vectors = (("aes256gcm", "aqUdgZ0lJnuz9yiPkoDxM6ZcTcVVpd4KKLqzbHD88Lg=",
                "CaZd8qSMMlBp8SjSXj2I4dQIuC9KkZ5DI/ATo1sWJw=="),
               ("aes128gcm", "aqUdgZ0lJnuz9yiPkoDxMw==",
                "OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw=="))
    tasks = [Task(c, uid, "builtin_online_decrypt", ["key", "nonce", "encrypted_data", "algorithm"],
                  {"key": key, "nonce": "AAECAwQFBgcICQoL", "encrypted_data": data,
                   "algorithm": algorithm}, label="online_decrypt " + algorithm)
             for algorithm, key, data in vectors]
    return lambda: [expect(t, b"Hello Teaclave!") for t in tasks]


def gbdt_train(c, uid):
    task = Task(c, uid, "builtin-gbdt-train", list(GBDT_ARGS), GBDT_ARGS,
                inputs=[("training_data", committed(
                    "gbdt_training/train.aes_gcm_128", "aes-gcm-128", iv=b"\x01" * 12,
                    cmac=bytes.fromhex("592f1e607649d89ff2aa8a2841a57cad")))],
                outputs=["trained_model"])
    return lambda: expect(task, b"Trained 120 lines of data.",
                          {"trained_model": fixture("gbdt_training/expected_model.txt")})


def gbdt_predict(c, uid):
    task = Task(c, uid, "builtin-gbdt-predict", [], {},
                inputs=[("model_file", plain_input("gbdt_prediction/model.txt", "aes-gcm-256")),
                        ("data_file", plain_input("gbdt_prediction/test_data.txt"))],
                outputs=["result_file"])
    return lambda: expect(task, b"Predict result has 30 lines of data.",
                          {"result_file": fixture("gbdt_prediction/expected_result.txt")})


def logistic_regression_train(c, uid):
    task = Task(c, uid, "builtin-logistic-regression-train", list(LR_ARGS), LR_ARGS,
                inputs=[("training_data", plain_input("logistic_regression_training/train.txt"))],
                outputs=["model_file"])
    return lambda: expect(task, b"Trained 100 lines of data.", {
        "model_file": fixture("logistic_regression_training/expected_model.txt")})


def logistic_regression_predict(c, uid):
    task = Task(c, uid, "builtin-logistic-regression-predict", [], {},
                inputs=[("model_file", plain_input("logistic_regression_prediction/model.txt")),
                        ("data_file", plain_input(
                            "logistic_regression_prediction/predict_input.txt", "aes-gcm-256"))],
                outputs=["result_file"])
    return lambda: expect(task, b"Predicted 5 lines of data.", {
        "result_file": fixture("logistic_regression_prediction/expected_result.txt")})


def principal_components_analysis(c, uid):
    task = Task(c, uid, "builtin_principal_components_analysis", list(PCA_ARGS), PCA_ARGS,
                inputs=[("input_data", plain_input("princopal_components_analysis/input.txt"))],
                outputs=["output_data"])
    return lambda: expect(task, b"transform 90 rows * 2 cols lines of data.", {
        "output_data": fixture("princopal_components_analysis/expected_result.txt")})


def expect(task, value, outputs=None):
    got, reason = task.result()
    check("%s returns %r" % (task.label, value[:60]), got == value, reason or got)
    for name, want in (outputs or {}).items() if reason is None else ():
        data = task.output(name)
        check("%s: %s is byte-identical to the fixture (%d bytes)" % (task.label, name, len(want)),
              data == want, "got %d bytes: %r" % (len(data), data[:200]))


def face_detection(c, uid):
    """Teaclave's example: the JPEG's bytes as a JSON array in the arguments."""
    args = {"image": list(fixture("face_detection/input.jpg")), "min_face_size": 20,
            "score_thresh": 2.0, "pyramid_scale_factor": 0.8, "slide_window_step_x": 4,
            "slide_window_step_y": 4}
    task = Task(c, uid, "builtin-face-detection", list(args), args)

    def verify():
        got, reason = task.result()
        faces = None
        try:
            faces = json.loads(got) if got is not None else None
        except ValueError:
            pass
        check("builtin-face-detection finds Teaclave's 29 faces",
              isinstance(faces, list) and len(faces) == 29, reason or got[:200])
        # serde_json of rustface's FaceInfo: this field order, bbox's too.
        order = (isinstance(faces, list) and faces and
                 all(list(face) == ["bbox", "roll", "pitch", "yaw", "score"] and
                     list(face["bbox"]) == ["x", "y", "width", "height"] for face in faces))
        check("builtin-face-detection's faces are in Teaclave's JSON field order", bool(order),
              (got or b"")[:200])
    return verify


BUILTINS = [echo, ordered_set_intersect, ordered_set_join, private_join_and_compute,
            password_check, rsa_sign, online_decrypt, gbdt_train, gbdt_predict,
            logistic_regression_train, logistic_regression_predict,
            principal_components_analysis, face_detection]


# ---- large arguments --------------------------------------------------------------------------

def large_arguments(c, uid):
    message = "".join(chr(ord("a") + i % 26) for i in range(3 * MIB))
    task = Task(c, uid, "builtin-echo", ["message"], {"message": message},
                label="echo of a 3 MiB message")

    def verify():
        got, reason = task.result()
        check("a 3 MiB echo message reaches its function and comes back whole",
              got == message.encode(), reason or "%d bytes" % len(got))
        try:
            Task(c, uid, "builtin-echo", ["message"], {"message": "x" * (5 * MIB)})
            check("a 5 MiB CreateTask is refused", False, "accepted")
        except grpc.RpcError as error:
            details = error.details() or ""
            check("a 5 MiB CreateTask is refused naming both sizes (%s)" % details,
                  error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                  and "larger than the limit of 4194304 bytes" in details
                  and "message of 524" in details, details)
    return verify


# ---- malformed inputs ---------------------------------------------------------------------------

def with_row(data, index, row):
    lines = data.decode().splitlines()
    lines[index] = row
    return ("\n".join(lines) + "\n").encode()


def malformed(c, uid):
    """(task, wanted reason) for each bad input, all submitted together."""
    lr_rows = fixture("logistic_regression_training/train.txt")
    gbdt_rows = fixture("gbdt_training/train.txt")
    pca_rows = fixture("princopal_components_analysis/input.txt")
    lr_model = fixture("logistic_regression_prediction/model.txt")
    gbdt_model = fixture("gbdt_prediction/model.txt")
    cases = []

    def add(label, function, arguments, args, inputs, outputs, want):
        specs = [(n, plain_input(None, data=d, name="%s-%d-%s" % (n, len(cases), "in")))
                 for n, d in inputs]
        cases.append((Task(c, uid, function, arguments, args, inputs=specs, outputs=outputs,
                           label=label), want))

    memory = "function exceeded its memory limit of %s MiB" % os.environ["BUILTINS_MEMORY_MB"]
    lr = ("builtin-logistic-regression-train", list(LR_ARGS))
    add("LR train: NaN feature", *lr, LR_ARGS, [("training_data", with_row(lr_rows, 3, ",".join(
        ["NaN"] + ["0.5"] * 30)))], ["model_file"],
        "NaN or infinite value in column 1 (training_data line 4)")
    add("LR train: infinite label", *lr, LR_ARGS, [("training_data", with_row(lr_rows, 0, ",".join(
        ["0.5"] * 30 + ["inf"])))], ["model_file"],
        "NaN or infinite value in column 31 (training_data line 1)")
    add("LR train: empty input", *lr, LR_ARGS, [("training_data", b"")], ["model_file"],
        "training_data is empty")
    add("LR train: ragged row", *lr, LR_ARGS, [("training_data", with_row(lr_rows, 5, "1.0,2.0"))],
        ["model_file"], "Data format error: column len = 2, expected = 31 (training_data line 6)")
    add("LR train: gigantic feature_size", *lr, dict(LR_ARGS, feature_size=10 ** 15),
        [("training_data", lr_rows)], ["model_file"], "feature_size larger than 65536")
    add("LR train: over its memory limit", *lr, dict(LR_ARGS, feature_size=1),
        [("training_data", b"1,1\n" * (2 * MIB))], ["model_file"], memory)
    lrp = ("builtin-logistic-regression-predict", [])
    add("LR predict: NaN in the model", *lrp, {}, [
        ("model_file", lr_model.replace(b"-0.7217673215572631", b"NaN")),
        ("data_file", fixture("logistic_regression_prediction/predict_input.txt"))],
        ["result_file"], "model_file: invalid token")
    add("LR predict: infinite feature", *lrp, {}, [
        ("model_file", lr_model), ("data_file", ",".join(["-inf"] + ["0"] * 29).encode())],
        ["result_file"], "NaN or infinite value in column 1 (data_file line 1)")
    add("LR predict: ragged row", *lrp, {}, [
        ("model_file", lr_model), ("data_file", b"1,2,3\n")],
        ["result_file"], "Data format error: column len = 3, expected = 30 (data_file line 1)")
    add("LR predict: empty model", *lrp, {}, [
        ("model_file", b""), ("data_file", b"1\n")], ["result_file"], "model_file: empty file")
    gbdt = ("builtin-gbdt-train", list(GBDT_ARGS))
    add("gbdt train: NaN label", *gbdt, GBDT_ARGS, [("training_data", with_row(
        gbdt_rows, 2, "5.1,3.5,1.4,0.2,NaN"))], ["trained_model"],
        "NaN or infinite value in column 5 (training_data line 3)")
    add("gbdt train: infinite feature", *gbdt, GBDT_ARGS, [("training_data", with_row(
        gbdt_rows, 0, "5.1,inf,1.4,0.2,1"))], ["trained_model"],
        "NaN or infinite value in column 2 (training_data line 1)")
    add("gbdt train: empty input", *gbdt, GBDT_ARGS, [("training_data", b"")], ["trained_model"],
        "training_data is empty")
    add("gbdt train: ragged row", *gbdt, GBDT_ARGS, [("training_data", with_row(
        gbdt_rows, 7, "5.1,3.5"))], ["trained_model"],
        "Data format error: column len = 2, expected = 5 (training_data line 8)")
    add("gbdt train: gigantic feature_size", *gbdt, dict(GBDT_ARGS, feature_size=2 ** 62),
        [("training_data", gbdt_rows)], ["trained_model"], "feature_size must be 1..4096")
    add("gbdt train: gigantic max_depth", *gbdt, dict(GBDT_ARGS, max_depth=4000000000),
        [("training_data", gbdt_rows)], ["trained_model"], "max_depth larger than 1000")
    gbdtp = ("builtin-gbdt-predict", [])
    add("gbdt predict: infinite feature", *gbdtp, {}, [
        ("model_file", gbdt_model), ("data_file", b"5.1,inf,1.4,0.2\n")], ["result_file"],
        "NaN or infinite value in column 2 (data_file line 1)")
    add("gbdt predict: NaN feature", *gbdtp, {}, [
        ("model_file", gbdt_model), ("data_file", b"5.1,3.5,1.4,0.2\nNaN,1,1,1\n")],
        ["result_file"], "NaN or infinite value in column 1 (data_file line 2)")
    add("gbdt predict: empty model", *gbdtp, {}, [
        ("model_file", b""), ("data_file", b"5.1,3.5,1.4,0.2\n")], ["result_file"],
        "model_file: empty file")
    pca = ("builtin_principal_components_analysis", list(PCA_ARGS))
    add("PCA: NaN value", *pca, PCA_ARGS, [("input_data", with_row(
        pca_rows, 10, "NaN,1.0,1.0,1.0,1.0"))], ["output_data"],
        "NaN or infinite value in column 1 (input_data line 11)")
    add("PCA: infinite value", *pca, PCA_ARGS, [("input_data", with_row(
        pca_rows, 0, "1.0,-inf,1.0,1.0,1.0"))], ["output_data"],
        "NaN or infinite value in column 2 (input_data line 1)")
    add("PCA: empty input", *pca, PCA_ARGS, [("input_data", b"")], ["output_data"],
        "input_data is empty")
    add("PCA: ragged row", *pca, PCA_ARGS, [("input_data", with_row(pca_rows, 4, "1.0,2.0,3.0"))],
        ["output_data"], "Data format error: column len = 3, expected = 5 (input_data line 5)")
    add("PCA: gigantic feature_size", *pca, dict(PCA_ARGS, feature_size=10 ** 12),
        [("input_data", pca_rows)], ["output_data"], "feature_size larger than 1024")
    add("PCA: gigantic n", *pca, dict(PCA_ARGS, n=10 ** 12), [("input_data", pca_rows)],
        ["output_data"], "equal or larger number of columns than n")
    add("PCA: over its memory limit", *pca, dict(PCA_ARGS, feature_size=2),
        [("input_data", b"1,2,3\n4,6,5\n" * MIB)], ["output_data"], memory)
    # A normal task submitted among them finishes.
    normal = Task(c, uid, "builtin-logistic-regression-train", list(LR_ARGS), LR_ARGS,
                  inputs=[("training_data",
                           plain_input("logistic_regression_training/train.txt"))],
                  outputs=["model_file"], label="LR train among malformed tasks")

    def verify():
        for task, want in cases:
            got, reason = task.result()
            check("%s fails its task: %s" % (task.label, reason), reason is not None
                  and want in reason and "INTERNAL" not in reason, got or reason)
        expect(normal, b"Trained 100 lines of data.", {
            "model_file": fixture("logistic_regression_training/expected_model.txt")})
    return verify


def main():
    uid = "builtins_user"
    tc.user(uid, "password")  # registered by the admin, as a PlatformAdmin
    auth = tc.Authentication()
    auth.login(uid, "password")
    client = tc.Frontend(auth.metadata, options=BIG)
    only = set(sys.argv[1:])
    verifiers = []
    for case in BUILTINS + [large_arguments, malformed]:
        if only and case.__name__ not in only:
            continue
        try:
            verifiers.append((case.__name__, case(client, uid)))
        except Exception as error:  # a broken flow is a failure, not a crash of the suite
            check(case.__name__, False, "%s: %s" % (type(error).__name__, error))
    for name, verify in verifiers:
        try:
            verify()
        except Exception as error:
            check(name, False, "%s: %s" % (type(error).__name__, error))
    print("%d passed, %d failed" % (tc.passed, tc.failed))
    return 0 if tc.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
