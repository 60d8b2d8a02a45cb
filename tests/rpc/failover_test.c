/*
 * A client of several replicas (lib/rpc/client_failover.c): a unary call
 * moves past a replica that cannot be reached and one that answers
 * UNAVAILABLE, the replica that answered serves the next calls, a refusal
 * other than UNAVAILABLE is not sent elsewhere, a call nobody serves
 * fails UNAVAILABLE, and one nobody answers in time moves the next call on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "fixture.h"

static atomic_int refused;

/* A replica that cannot serve now (a scheduler that does not lead). */
static void say_unavailable(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    atomic_fetch_add(&refused, 1);
    steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "not the leader");
}

static struct steep_rpc_server *start_follower(void)
{
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "follower"};
    config.tls.credentials = test_identity_credentials;
    config.tls.credentials_arg = &server_identity;
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_non_null(server);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          say_unavailable, NULL),
                     0);
    assert_int_equal(steep_rpc_server_start(server), 0);
    return server;
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof address;
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &len), 0);
    close(fd);
    return ntohs(address.sin_port);
}

static struct steep_rpc_client *client_of(const char *addresses)
{
    struct steep_rpc_client_config config = {.address = addresses, .connect_timeout_ms = 1000};
    struct steep_rpc_client *client = steep_rpc_client_new(&config);
    assert_non_null(client);
    return client;
}

static int say_message(struct steep_rpc_client *client, const char *message, int error_code,
                       struct steep_rpc_status *status)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = (char *)message;
    request.error_code = error_code;
    SteepTest__EchoReply *reply = NULL;
    int rc = say(client, &request, &reply, 5000, status);
    if (rc == 0) {
        assert_string_equal(reply->message, message);
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    }
    return rc;
}

static void test_moves_to_the_replica_that_serves(void **state)
{
    struct steep_rpc_server *follower = start_follower(), *leader = start_server(NULL);
    char addresses[128];
    snprintf(addresses, sizeof addresses, "127.0.0.1:%d,127.0.0.1:%d, 127.0.0.1:%d", closed_port(),
             steep_rpc_server_port(follower), steep_rpc_server_port(leader));
    struct steep_rpc_client *client = client_of(addresses);
    struct steep_rpc_status status;
    atomic_store(&refused, 0);
    assert_int_equal(say_message(client, "first", 0, &status), 0);
    assert_int_equal(atomic_load(&refused), 1);
    /* The replica that answered serves the next calls directly. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(say_message(client, "again", 0, &status), 0);
    assert_int_equal(atomic_load(&refused), 1);
    /* The server's own refusal is an answer: not sent to another replica. */
    assert_int_equal(say_message(client, "denied", STEEP_GRPC_PERMISSION_DENIED, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(atomic_load(&refused), 1);
    /* The serving replica dies: round the list, nobody serves. */
    steep_rpc_server_free(leader);
    assert_int_equal(say_message(client, "alone", 0, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_int_equal(atomic_load(&refused), 2);
    steep_rpc_client_free(client);
    steep_rpc_server_free(follower);
}

struct long_call {
    struct steep_rpc_client *client;
    int rc;
    struct steep_rpc_status status;
};

static void *long_call_main(void *arg)
{
    struct long_call *c = arg;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "long";
    request.sleep_ms = 1500;
    SteepTest__EchoReply *reply = NULL;
    c->rc = say(c->client, &request, &reply, 20000, &c->status);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    return NULL;
}

/* A replica that does not answer in time (a host that died silently: its
 * connection is not known to be lost): the call fails DEADLINE_EXCEEDED
 * and the next one starts at the next replica. */
static void test_no_answer_moves_on(void **state)
{
    struct steep_rpc_server *slow = start_server(NULL), *follower = start_follower();
    char addresses[128];
    snprintf(addresses, sizeof addresses, "127.0.0.1:%d,127.0.0.1:%d", steep_rpc_server_port(slow),
             steep_rpc_server_port(follower));
    struct steep_rpc_client *client = client_of(addresses);
    struct steep_rpc_status status;
    atomic_store(&refused, 0);
    assert_int_equal(say_message(client, "warm", 0, &status), 0);
    /* A long call waits on the same connection meanwhile. */
    struct long_call waiting = {.client = client};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, long_call_main, &waiting), 0);
    usleep(100000);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "stuck";
    request.sleep_ms = 1000;
    SteepTest__EchoReply *reply = NULL;
    assert_int_equal(say(client, &request, &reply, 200, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_DEADLINE_EXCEEDED);
    /* The connection is dropped: the long call fails UNAVAILABLE at once
     * and moves on to the other replica (which refuses it), not after its
     * own deadline (20 s). */
    for (int i = 0; i < 50 && atomic_load(&refused) == 0; i++)
        usleep(20000);
    assert_int_equal(atomic_load(&refused), 1);
    assert_int_equal(say_message(client, "next", 0, &status), 0);
    assert_int_equal(atomic_load(&refused), 2); /* started at the other replica */
    pthread_join(thread, NULL);
    /* Round the list once: the other replica's refusal is its answer. */
    assert_int_equal(waiting.rc, -1);
    assert_int_equal(waiting.status.code, STEEP_GRPC_UNAVAILABLE);
    steep_rpc_client_free(client);
    steep_rpc_server_free(follower);
    steep_rpc_server_free(slow);
}

static void test_bad_list_is_refused(void **state)
{
    struct steep_rpc_client_config config = {.address = "127.0.0.1:1,nonsense"};
    assert_null(steep_rpc_client_new(&config));
    assert_non_null(strstr(steep_error_get(), "replica 2"));
    config.address = ",";
    assert_null(steep_rpc_client_new(&config));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves_to_the_replica_that_serves),
        cmocka_unit_test(test_no_answer_moves_on),
        cmocka_unit_test(test_bad_list_is_refused),
    };
    return fixture_main("failover", tests, sizeof(tests) / sizeof(tests[0]));
}
