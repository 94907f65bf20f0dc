// A rogue MySQL server must not be able to read local files. The server below speaks just
// enough of the client/server protocol (handshake v10, OK to any login, then COM_QUERY) to
// answer statements with a LOAD DATA LOCAL request (0xFB + file name) for a file holding a
// known secret, and records every byte the client sends back. The client may only ever send
// the in-memory buffer of its own LoadDataLocal, under its own file name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stagesync/sql.h"
#include "testing/temp_dir.h"

namespace stagesync {
namespace {

constexpr const char* kSecret = "stagesync-test-secret-7f3a9c";

class RogueMySqlServer {
 public:
  // `evil_after`: how many COM_QUERYs get a plain OK before every later one is answered with
  // a LOCAL INFILE request for `file`. A query containing "LOAD DATA" is answered with a
  // request for the name it used ('stagesync-stream') unless `evil_loads` is set.
  RogueMySqlServer(std::string file, int evil_after, bool evil_loads)
      : file_(std::move(file)), evil_after_(evil_after), evil_loads_(evil_loads) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0) {
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RogueMySqlServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  // Every byte of file data the client sent in reply to LOCAL INFILE requests.
  std::string received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int requests() const { return requests_; }

 private:
  static bool ReadN(int fd, char* buf, size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd, buf, n, 0);
      if (r <= 0) return false;
      buf += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  static bool ReadPacket(int fd, std::string* payload, uint8_t* seq) {
    char h[4];
    if (!ReadN(fd, h, 4)) return false;
    size_t len = static_cast<uint8_t>(h[0]) | (static_cast<uint8_t>(h[1]) << 8) |
                 (static_cast<uint8_t>(h[2]) << 16);
    *seq = static_cast<uint8_t>(h[3]);
    payload->resize(len);
    return len == 0 || ReadN(fd, payload->data(), len);
  }
  static void WritePacket(int fd, uint8_t seq, const std::string& payload) {
    std::string p;
    p.push_back(static_cast<char>(payload.size() & 0xff));
    p.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    p.push_back(static_cast<char>((payload.size() >> 16) & 0xff));
    p.push_back(static_cast<char>(seq));
    p += payload;
    (void)!::send(fd, p.data(), p.size(), MSG_NOSIGNAL);
  }
  static std::string Ok() { return std::string("\x00\x00\x00\x02\x00\x00\x00", 7); }

  static std::string Handshake() {
    const uint32_t caps = 0x1 | 0x2 | 0x4 | 0x8 | 0x80 /*LOCAL_FILES*/ | 0x200 /*PROTOCOL_41*/ |
                          0x2000 | 0x8000 /*SECURE_CONNECTION*/ | 0x10000 | 0x20000 |
                          0x80000 /*PLUGIN_AUTH*/;
    std::string p;
    p.push_back('\x0a');
    p += std::string("8.0.36-rogue") + '\0';
    p += std::string("\x01\x00\x00\x00", 4);  // connection id
    p += "abcdefgh";                          // scramble, part 1
    p.push_back('\0');
    p.push_back(static_cast<char>(caps & 0xff));
    p.push_back(static_cast<char>((caps >> 8) & 0xff));
    p.push_back('\x2d');              // utf8mb4
    p += std::string("\x02\x00", 2);  // status: autocommit
    p.push_back(static_cast<char>((caps >> 16) & 0xff));
    p.push_back(static_cast<char>((caps >> 24) & 0xff));
    p.push_back('\x15');                      // auth data length: 21
    p += std::string(10, '\0');               // reserved
    p += std::string("ijklmnopqrst") + '\0';  // scramble, part 2
    p += std::string("mysql_native_password") + '\0';
    return p;
  }

  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Session(c);
      ::close(c);
    }
  }

  void Session(int c) {
    WritePacket(c, 0, Handshake());
    std::string p;
    uint8_t seq = 0;
    if (!ReadPacket(c, &p, &seq)) return;  // the login; any is fine
    WritePacket(c, static_cast<uint8_t>(seq + 1), Ok());
    int queries = 0;
    while (ReadPacket(c, &p, &seq)) {
      if (p.empty() || p[0] != '\x03') {  // COM_QUIT and anything else but COM_QUERY
        if (!p.empty() && p[0] == '\x01') return;
        WritePacket(c, static_cast<uint8_t>(seq + 1), Ok());
        continue;
      }
      const bool load = p.find("LOAD DATA") != std::string::npos;
      const bool evil = queries++ >= evil_after_;
      if (!evil && !load) {
        WritePacket(c, static_cast<uint8_t>(seq + 1), Ok());
        continue;
      }
      ++requests_;
      const std::string name = load && !evil_loads_ ? "stagesync-stream" : file_;
      WritePacket(c, static_cast<uint8_t>(seq + 1), "\xfb" + name);
      // The client sends the file in packets and ends with an empty one (only the empty one
      // when it refuses).
      uint8_t s = static_cast<uint8_t>(seq + 1);
      std::string data;
      while (ReadPacket(c, &data, &s) && !data.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        received_ += data;
      }
      WritePacket(c, static_cast<uint8_t>(s + 1), Ok());
    }
  }

  std::string file_;
  int evil_after_;
  bool evil_loads_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
  std::mutex mu_;
  std::string received_;
};

class MySqlLocalInfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_file_ = dir_.Sub("secret.txt");
    std::ofstream(secret_file_) << kSecret << "\n";
  }
  SqlOptions Options(int port) const {
    SqlOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.user = "root";
    o.database = "db";
    o.tls_mode = "disabled";
    o.connect_timeout_s = 5;
    o.read_timeout_s = 5;
    o.write_timeout_s = 5;
    return o;
  }
  testing::TempDir dir_;
  std::string secret_file_;
};

TEST_F(MySqlLocalInfileTest, ARogueServerGetsNoFileWhileConnectingOrQuerying) {
  // Every statement, from the session setup on (what `check` runs), asks for the secret.
  RogueMySqlServer server(secret_file_, 0, false);
  ASSERT_GT(server.port(), 0);
  auto conn = ConnectMySql(Options(server.port()));
  if (conn.ok()) (void)(*conn)->Query("SELECT 1");
  EXPECT_GT(server.requests(), 0);
  EXPECT_EQ(server.received().find(kSecret), std::string::npos) << server.received();
  EXPECT_EQ(server.received(), "");
}

TEST_F(MySqlLocalInfileTest, OnlyTheLoadsOwnBufferIsServedAndNothingAfterIt) {
  // The session setup is answered normally; then every statement asks for the secret, and a
  // LOAD DATA is answered with a request for its own stream name.
  RogueMySqlServer server(secret_file_, 3, false);
  auto conn = ConnectMySql(Options(server.port()));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  const std::string rows = "1\tbuffer row\n";
  auto loaded =
      (*conn)->LoadDataLocal("LOAD DATA LOCAL INFILE 'stagesync-stream' INTO TABLE t (a, b)", rows);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(server.received(), rows);
  // After the load, a request for any file is refused (the library's default handler is not
  // back).
  (void)(*conn)->Query("SELECT 1");
  (void)(*conn)->Query("SELECT 2");
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.received(), rows);
}

TEST_F(MySqlLocalInfileTest, ALoadAskedForAnotherFileNameSendsNothing) {
  RogueMySqlServer server(secret_file_, 3, true);
  auto conn = ConnectMySql(Options(server.port()));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto loaded = (*conn)->LoadDataLocal(
      "LOAD DATA LOCAL INFILE 'stagesync-stream' INTO TABLE t (a, b)", "1\tx\n");
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(server.received(), "");
}

}  // namespace
}  // namespace stagesync
