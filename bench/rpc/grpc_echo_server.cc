// The benchmark's reference: gRPC C++ (Debian libgrpc++) serving
// steep_test.Echo/Say over TLS, as a synchronous service (handlers on
// gRPC's thread pool, like ours on our worker pool). Prints "PORT <n>";
// exits when stdin closes.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

namespace {

std::string read_file(const char *path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

class EchoService final : public steep_test::Echo::Service {
    grpc::Status Say(grpc::ServerContext *, const steep_test::EchoRequest *request,
                     steep_test::EchoReply *reply) override
    {
        reply->set_message(request->message());
        if (request->payload_size() > 0)
            reply->set_payload(std::string(request->payload_size(), 'x'));
        return grpc::Status::OK;
    }
};

} // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::cerr << "usage: rpc-bench-grpc-server CERT KEY\n";
        return 2;
    }
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({read_file(argv[2]), read_file(argv[1])});
    EchoService service;
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || port == 0)
        return 1;
    std::cout << "PORT " << port << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    server->Shutdown();
    return 0;
}
