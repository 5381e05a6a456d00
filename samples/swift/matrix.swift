// Ground truth: nearly all CPU in Matrix.multiply(by:), a Swift method.
// Usage: swift_matrix SECONDS
import Foundation

struct Matrix {
    var size: Int
    var values: [Double]

    init(size: Int, seed: Double) {
        self.size = size
        values = (0..<size * size).map { Double($0 % 17) * seed }
    }

    @inline(never)
    func multiply(by other: Matrix) -> Matrix {
        var result = Matrix(size: size, seed: 0)
        for row in 0..<size {
            for column in 0..<size {
                var sum = 0.0
                for k in 0..<size { sum += values[row * size + k] * other.values[k * size + column] }
                result.values[row * size + column] = sum
            }
        }
        return result
    }
}

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
let a = Matrix(size: 96, seed: 1.5), b = Matrix(size: 96, seed: 0.5)
let end = Date().addingTimeInterval(seconds)
var checksum = 0.0
while Date() < end { checksum += a.multiply(by: b).values[7] }
print(checksum > 0 ? "ok" : "zero")
