// The part of ESPHome's C++ runtime that esphome/hydro-node.yaml's lambdas use, for a host
// build: components as plain state (a relay, a float switch, sensors, an SNTP clock), the
// MQTT client as lines on stdout, and ArduinoJson 7's JsonObject/JsonVariant API (operator[],
// operator|, is<T>(), isNull(), to<JsonObject>(), assignment) over nlohmann::json.
// tests/conformance/esphome_host.py generates the node's code from the YAML on top of this.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#define id(x) (x)

inline uint32_t millis() {
  static const auto start = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::steady_clock::now() - start;
  return (uint32_t) std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
}

using Json = nlohmann::json;

class JsonObject;

// A place in a JSON document: read without creating anything, written by creating the path.
class JsonVariant {
 public:
  JsonVariant(Json *root, std::vector<std::string> path) : root_(root), path_(std::move(path)) {}

  JsonVariant operator[](const std::string &key) const {
    auto path = path_;
    path.push_back(key);
    return JsonVariant(root_, path);
  }
  JsonVariant operator[](const char *key) const { return (*this)[std::string(key)]; }

  const Json *find() const {
    const Json *node = root_;
    for (const auto &key : path_) {
      if (node == nullptr || !node->is_object()) return nullptr;
      auto it = node->find(key);
      if (it == node->end()) return nullptr;
      node = &*it;
    }
    return node;
  }
  Json &make() const {
    Json *node = root_;
    for (const auto &key : path_) {
      if (!node->is_object()) *node = Json::object();
      node = &(*node)[key];
    }
    return *node;
  }

  bool isNull() const {
    const Json *node = find();
    return node == nullptr || node->is_null();
  }
  // ArduinoJson 7: is<int> only for integers, is<float> for any number, never for a bool.
  template <typename T> bool is() const;
  template <typename T> T to() const;

  template <typename T> const JsonVariant &operator=(const T &value) const {
    make() = value;
    return *this;
  }
  const JsonVariant &operator=(std::nullptr_t) const {
    make() = nullptr;
    return *this;
  }
  const JsonVariant &operator=(const JsonVariant &other) const {
    const Json *node = other.find();
    make() = node ? *node : Json();
    return *this;
  }
  JsonVariant(const JsonVariant &) = default;

 protected:
  Json *root_;
  std::vector<std::string> path_;
};

class JsonObject : public JsonVariant {
 public:
  JsonObject(Json *root, std::vector<std::string> path) : JsonVariant(root, std::move(path)) {}
};

template <> inline bool JsonVariant::is<int>() const {
  const Json *n = find();
  return n && n->is_number_integer();
}
template <> inline bool JsonVariant::is<float>() const {
  const Json *n = find();
  return n && n->is_number();
}
template <> inline bool JsonVariant::is<double>() const { return is<float>(); }
template <> inline bool JsonVariant::is<bool>() const {
  const Json *n = find();
  return n && n->is_boolean();
}
template <> inline bool JsonVariant::is<const char *>() const {
  const Json *n = find();
  return n && n->is_string();
}
template <> inline bool JsonVariant::is<JsonObject>() const {
  const Json *n = find();
  return n && n->is_object();
}
template <> inline JsonObject JsonVariant::to<JsonObject>() const {
  make() = Json::object();
  return JsonObject(root_, path_);
}

// ArduinoJson's operator|: the value if it is of the default's type, else the default.
inline const char *operator|(const JsonVariant &v, const char *fallback) {
  const Json *n = v.find();
  return n && n->is_string() ? n->get_ref<const std::string &>().c_str() : fallback;
}
inline int operator|(const JsonVariant &v, int fallback) {
  const Json *n = v.find();
  return n && n->is_number_integer() ? n->get<int>() : fallback;
}
inline float operator|(const JsonVariant &v, float fallback) {
  const Json *n = v.find();
  return n && n->is_number() ? n->get<float>() : fallback;
}
inline double operator|(const JsonVariant &v, double fallback) {
  const Json *n = v.find();
  return n && n->is_number() ? n->get<double>() : fallback;
}

// ---- components ------------------------------------------------------------------------

struct Switch {
  bool state = false;
  void turn_on() { state = true; }
  void turn_off() { state = false; }
};
struct BinarySensor {
  bool state = false;
};
struct Sensor {
  float state = NAN;
};
struct ESPTime {
  time_t timestamp;
  bool is_valid() const { return true; }
};
struct SntpClock {
  ESPTime now() const { return ESPTime{std::time(nullptr)}; }
};

inline std::string to_hex(const std::string &data) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : data) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// What the node publishes: "P <qos> <retain> <topic> <payload in hex>" on stdout.
struct MqttClient {
  void publish(const std::string &topic, const std::string &payload, uint8_t qos, bool retain) {
    std::printf("P %u %d %s %s\n", (unsigned) qos, retain ? 1 : 0, topic.c_str(), to_hex(payload).c_str());
    std::fflush(stdout);
  }
  void publish_json(const std::string &topic, const std::function<void(JsonObject)> &build, uint8_t qos,
                    bool retain) {
    Json doc = Json::object();
    build(JsonObject(&doc, {}));
    publish(topic, doc.dump(), qos, retain);
  }
};

// ---- delays: continuations run by the main loop when due ---------------------------------

struct Pending {
  uint32_t due;
  std::function<void()> run;
};
inline std::vector<Pending> &pending() {
  static std::vector<Pending> list;
  return list;
}
inline void schedule(uint32_t delay_ms, std::function<void()> run) {
  pending().push_back({millis() + delay_ms, std::move(run)});
}
inline void run_due() {
  for (;;) {
    auto &list = pending();
    auto it = std::find_if(list.begin(), list.end(), [](const Pending &p) { return (int32_t) (millis() - p.due) >= 0; });
    if (it == list.end()) return;
    auto run = it->run;
    list.erase(it);
    run();
  }
}
