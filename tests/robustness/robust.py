"""Shared helpers for the robustness tests (a client's view of a live platform).

Builds on tests/compat/teaclave_client.py (RA-TLS check as Teaclave's SDK
does, message classes from $STEEP_BUILD_DIR/python) and adds: raw-byte calls
(any bytes as the request message), a pass/fail counter whose summary line
is "N passed, M failed", and the expectations every robustness test shares:
a refused call carries a gRPC error code and a precise message, and no call
hangs (each has a deadline; DEADLINE_EXCEEDED / UNAVAILABLE count as hangs
or crashes).
"""
import os
import signal
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.environ["STEEP_SOURCE_DIR"], "tests", "compat"))
import teaclave_client as tc  # noqa: E402
from teaclave_client import auth_pb2, common_pb2, empty_pb2, fe_pb2  # noqa: E402,F401

BASE = tc.BASE
FILES_URL = tc.FILES_URL
FILES_DIR = tc.FILES_DIR
PLATFORM = tc.PLATFORM
STEEP = os.path.join(os.environ["STEEP_BIN"], "steep")

AUTH_SERVICE = "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/"
FRONTEND_SERVICE = "/teaclave_frontend_service_proto.TeaclaveFrontend/"

# The 7 public authentication methods and the 22 frontend methods with their
# request / response classes.
AUTH_METHODS = {
    "UserRegister": (auth_pb2.UserRegisterRequest, empty_pb2.Empty),
    "UserUpdate": (auth_pb2.UserUpdateRequest, empty_pb2.Empty),
    "UserLogin": (auth_pb2.UserLoginRequest, auth_pb2.UserLoginResponse),
    "UserChangePassword": (auth_pb2.UserChangePasswordRequest, empty_pb2.Empty),
    "ResetUserPassword": (auth_pb2.ResetUserPasswordRequest, auth_pb2.ResetUserPasswordResponse),
    "DeleteUser": (auth_pb2.DeleteUserRequest, empty_pb2.Empty),
    "ListUsers": (auth_pb2.ListUsersRequest, auth_pb2.ListUsersResponse),
}
FRONTEND_METHODS = {
    "RegisterInputFile": (fe_pb2.RegisterInputFileRequest, fe_pb2.RegisterInputFileResponse),
    "RegisterOutputFile": (fe_pb2.RegisterOutputFileRequest, fe_pb2.RegisterOutputFileResponse),
    "UpdateInputFile": (fe_pb2.UpdateInputFileRequest, fe_pb2.UpdateInputFileResponse),
    "UpdateOutputFile": (fe_pb2.UpdateOutputFileRequest, fe_pb2.UpdateOutputFileResponse),
    "RegisterFusionOutput": (fe_pb2.RegisterFusionOutputRequest,
                             fe_pb2.RegisterFusionOutputResponse),
    "RegisterInputFromOutput": (fe_pb2.RegisterInputFromOutputRequest,
                                fe_pb2.RegisterInputFromOutputResponse),
    "GetOutputFile": (fe_pb2.GetOutputFileRequest, fe_pb2.GetOutputFileResponse),
    "GetInputFile": (fe_pb2.GetInputFileRequest, fe_pb2.GetInputFileResponse),
    "RegisterFunction": (fe_pb2.RegisterFunctionRequest, fe_pb2.RegisterFunctionResponse),
    "GetFunction": (fe_pb2.GetFunctionRequest, fe_pb2.GetFunctionResponse),
    "GetFunctionUsageStats": (fe_pb2.GetFunctionUsageStatsRequest,
                              fe_pb2.GetFunctionUsageStatsResponse),
    "UpdateFunction": (fe_pb2.UpdateFunctionRequest, fe_pb2.UpdateFunctionResponse),
    "ListFunctions": (fe_pb2.ListFunctionsRequest, fe_pb2.ListFunctionsResponse),
    "DeleteFunction": (fe_pb2.DeleteFunctionRequest, empty_pb2.Empty),
    "DisableFunction": (fe_pb2.DisableFunctionRequest, empty_pb2.Empty),
    "CreateTask": (fe_pb2.CreateTaskRequest, fe_pb2.CreateTaskResponse),
    "GetTask": (fe_pb2.GetTaskRequest, fe_pb2.GetTaskResponse),
    "AssignData": (fe_pb2.AssignDataRequest, empty_pb2.Empty),
    "ApproveTask": (fe_pb2.ApproveTaskRequest, empty_pb2.Empty),
    "InvokeTask": (fe_pb2.InvokeTaskRequest, empty_pb2.Empty),
    "CancelTask": (fe_pb2.CancelTaskRequest, empty_pb2.Empty),
    "QueryAuditLogs": (fe_pb2.QueryAuditLogsRequest, fe_pb2.QueryAuditLogsResponse),
}

# Messages that say nothing about what the client did wrong.
VAGUE = ("", "service internal error", "internal error", "unknown error", "error")

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print("ok      " + name, flush=True)
    else:
        failed += 1
        print("FAILED  %s %s" % (name, detail), flush=True)
    return condition


def summary():
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


def run_flow(flow, *args):
    """Runs one part of a test; an exception there is one failure, not a crash."""
    try:
        flow(*args)
    except Exception as error:  # noqa: BLE001
        check(flow.__name__, False, "%s: %s" % (type(error).__name__, error))


class Outcome:
    """The result of a call: code (grpc.StatusCode), details, response."""

    def __init__(self, code, details="", response=None, seconds=0.0):
        self.code, self.details, self.response, self.seconds = code, details or "", response, seconds

    def __repr__(self):
        return "%s %r (%.1f s)" % (self.code.name, self.details[:200], self.seconds)


class Endpoint:
    """One public endpoint: `auth` (PORT_BASE) or `frontend` (PORT_BASE+1)."""

    def __init__(self, service, metadata=None):
        self.service = service
        port = BASE if service == "authentication" else BASE + 1
        self.prefix = AUTH_SERVICE if service == "authentication" else FRONTEND_SERVICE
        self.methods = AUTH_METHODS if service == "authentication" else FRONTEND_METHODS
        # A task's GetTask answer holds its arguments and its result, so it
        # may exceed the 4 MiB a client sends (the platform allows it).
        self.channel = tc.channel(port, service, [("grpc.max_receive_message_length", 64 << 20)])
        self.metadata = metadata

    def raw(self, method, payload, timeout=20, metadata=None, compression=None, path=None):
        """Sends payload (bytes) as the request message; the response stays bytes."""
        stub = self.channel.unary_unary(path or (self.prefix + method))
        start = time.time()
        try:
            response = stub(payload, metadata=metadata if metadata is not None else self.metadata,
                            timeout=timeout, compression=compression)
            return Outcome(grpc.StatusCode.OK, "", response, time.time() - start)
        except grpc.RpcError as error:
            return Outcome(error.code(), error.details(), None, time.time() - start)

    def call(self, method, request, timeout=20, metadata=None):
        """Sends a message; on OK, response is decoded."""
        outcome = self.raw(method, request.SerializeToString(), timeout, metadata)
        if outcome.code == grpc.StatusCode.OK:
            outcome.response = self.methods[method][1].FromString(outcome.response)
        return outcome

    def close(self):
        self.channel.close()


def login(user, password):
    auth = Endpoint("authentication")
    outcome = auth.call("UserLogin", auth_pb2.UserLoginRequest(id=user, password=password))
    if outcome.code != grpc.StatusCode.OK:
        raise RuntimeError("login %s: %r" % (user, outcome))
    auth.metadata = (("id", user), ("token", outcome.response.token))
    return auth


def register(admin, user, password, role="PlatformAdmin", attribute=""):
    outcome = admin.call("UserRegister", auth_pb2.UserRegisterRequest(
        id=user, password=password, role=role, attribute=attribute))
    if outcome.code != grpc.StatusCode.OK and "user id exist" not in outcome.details:
        raise RuntimeError("register %s: %r" % (user, outcome))


def new_user(name, password="password", role="PlatformAdmin", attribute=""):
    """Registers (as admin) and logs in a user; returns (auth, frontend) endpoints."""
    admin = login("admin", "teaclave")
    register(admin, name, password, role, attribute)
    admin.close()
    auth = login(name, password)
    return auth, Endpoint("frontend", auth.metadata)


def ok(outcome, what):
    if outcome.code != grpc.StatusCode.OK:
        raise RuntimeError("%s: %r" % (what, outcome))
    return outcome.response


def echo_function(frontend, arguments=("message",)):
    return ok(frontend.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name="builtin-echo", description="echo", executor_type="builtin", public=True,
        arguments=[fe_pb2.FunctionArgument(key=k, default_value="", allow_overwrite=True)
                   for k in arguments], usage_quota=-1)), "RegisterFunction").function_id


def builtin_function(frontend, name, arguments=(), inputs=(), outputs=()):
    return ok(frontend.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name=name, description=name, executor_type="builtin", public=True,
        arguments=[fe_pb2.FunctionArgument(key=k, default_value="", allow_overwrite=True)
                   for k in arguments],
        inputs=[fe_pb2.FunctionInput(name=n, description="") for n in inputs],
        outputs=[fe_pb2.FunctionOutput(name=n, description="") for n in outputs],
        usage_quota=-1)), "RegisterFunction %s" % name).function_id


def create_task(frontend, function_id, arguments_json, inputs=(), outputs=()):
    return ok(frontend.call("CreateTask", fe_pb2.CreateTaskRequest(
        function_id=function_id, function_arguments=arguments_json, executor="builtin",
        inputs_ownership=[fe_pb2.OwnerList(data_name=n, uids=u) for n, u in inputs],
        outputs_ownership=[fe_pb2.OwnerList(data_name=n, uids=u) for n, u in outputs])),
        "CreateTask").task_id


def assign(frontend, task_id, inputs=(), outputs=()):
    ok(frontend.call("AssignData", fe_pb2.AssignDataRequest(
        task_id=task_id, inputs=[fe_pb2.DataMap(data_name=n, data_id=i) for n, i in inputs],
        outputs=[fe_pb2.DataMap(data_name=n, data_id=i) for n, i in outputs])), "AssignData")


def invoke(frontend, task_id):
    ok(frontend.call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id)), "InvokeTask")


def get_task(frontend, task_id):
    return ok(frontend.call("GetTask", fe_pb2.GetTaskRequest(task_id=task_id)), "GetTask")


TERMINAL = (common_pb2.Finished, common_pb2.Failed, common_pb2.Canceled)


def wait_task(frontend, task_id, seconds=60):
    """Polls GetTask until the task is terminal; returns the last GetTaskResponse."""
    deadline = time.time() + seconds
    task = get_task(frontend, task_id)
    while task.status not in TERMINAL and time.time() < deadline:
        time.sleep(0.1)
        task = get_task(frontend, task_id)
    return task


def status_name(value):
    try:
        return common_pb2.TaskStatus.Name(value)
    except ValueError:
        return str(value)


def echo_flow(frontend, message):
    """The builtin-echo flow of Teaclave's examples; returns the final task."""
    function_id = echo_function(frontend)
    task_id = create_task(frontend, function_id, '{"message": %s}' % _json_string(message))
    invoke(frontend, task_id)
    return wait_task(frontend, task_id)


def _json_string(text):
    import json
    return json.dumps(text)


def platform_status():
    """`steep status --dir`: (exit code, output)."""
    result = subprocess.run([STEEP, "status", "--dir", PLATFORM], capture_output=True, text=True,
                            timeout=30)
    return result.returncode, result.stdout + result.stderr


def service_pid(name):
    """The pid of one of the platform's processes, from its pid file."""
    with open(os.path.join(PLATFORM, "run", name + ".pid")) as f:
        return int(f.read())


def kill_service(name, seconds=10):
    """kill -9 of a platform process, then waits until it is gone or a
    zombie. The supervisor may reap it between the /proc check and the read
    of its stat, which then fails (ESRCH or ENOENT): it is gone."""
    pid = service_pid(name)
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + seconds
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)


def input_file(frontend, rel, cmac=None, url=None, schema="teaclave-file-128", key=bytes(16),
               iv=b""):
    if cmac is None:
        with open(os.path.join(FILES_DIR, rel), "rb") as f:
            cmac = f.read()[80:96]
    return ok(frontend.call("RegisterInputFile", fe_pb2.RegisterInputFileRequest(
        url=url or "%s/%s" % (FILES_URL, rel), cmac=cmac,
        crypto_info=common_pb2.FileCryptoInfo(schema=schema, key=key, iv=iv))),
        "RegisterInputFile").data_id


def output_file(frontend, url):
    return ok(frontend.call("RegisterOutputFile", fe_pb2.RegisterOutputFileRequest(
        url=url, crypto_info=common_pb2.FileCryptoInfo(schema="teaclave-file-128",
                                                      key=bytes(16)))),
        "RegisterOutputFile").data_id
