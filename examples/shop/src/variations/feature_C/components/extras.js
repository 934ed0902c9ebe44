var recommended = require('./recommended.js');

module.exports = {
    render: function (element) {
        recommended.render(element);
    }
};
