// Ground truth: nearly all CPU in geometry::Polygon::area(int) const, which
// lives in libshapes.so; exceptions are thrown and caught throughout, and the
// program checks each was caught (exit 0), so a profiler that broke C++
// unwinding in the target would show as a failure.
// Usage: shapes SECONDS
#include "shapes.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

static void check(double value, int round) {
    if (round % 64 == 0) throw std::runtime_error("checkpoint");
    if (value < 0) std::abort();
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? std::atof(argv[1]) : 2;
    std::vector<geometry::Point> points;
    for (int i = 0; i < 512; i++) points.push_back({double(i % 37), double(i % 91)});
    geometry::Polygon polygon(points);
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int caught = 0, thrown = 0;
    volatile double sink = 0;
    for (int round = 0; std::chrono::steady_clock::now() < end; round++) {
        double value = polygon.area(200);
        sink = sink + value;
        try {
            if (round % 64 == 0) thrown++;
            check(value, round);
        } catch (const std::runtime_error &) {
            caught++;
        }
    }
    return caught == thrown ? 0 : 1;
}
