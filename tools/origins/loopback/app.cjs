'use strict';
// LoopBack 4's todo-jwt example, put together from npm packages.
//
// The todo-jwt example (loopback-next/examples/todo-jwt) is not published on
// npm; it is the published todo example (@loopback/example-todo: Todo model,
// repository, controller, in-memory datasource seeded from data/db.json) plus
// what examples/todo-jwt/src adds, reproduced here in plain JavaScript (the
// decorators applied by hand, as TypeScript compiles them):
//   - application.ts: AuthenticationComponent, JWTAuthenticationComponent and
//     the `db` datasource bound as the user datasource (`jwtdb`);
//   - todo.controller.ts: `@authenticate('jwt')` on the TodoController class;
//   - user.controller.ts: POST /signup (bcryptjs hash into UserCredentials),
//     POST /users/login ({token}) and GET /whoAmI.
// The package versions are the ones that release line uses (core 4, rest 12,
// authentication 9, authentication-jwt 0.12), pinned in ../package.json.
//
//   HOST=127.0.0.1 PORT=0 node loopback/app.cjs
//
// Run it from a scratch directory holding data/db.json (the datasource reads
// and writes ./data/db.json, as the example does); it prints
// `listening http://HOST:PORT`.
const {TodoListApplication} = require('@loopback/example-todo/dist/application');
const {TodoController} = require('@loopback/example-todo/dist/controllers/todo.controller');
const {DbDataSource} = require('@loopback/example-todo/dist/datasources/db.datasource');
const {AuthenticationComponent, authenticate} = require('@loopback/authentication');
const {
  JWTAuthenticationComponent,
  TokenServiceBindings,
  UserRepository,
  UserServiceBindings,
} = require('@loopback/authentication-jwt');
const {inject} = require('@loopback/core');
const {repository} = require('@loopback/repository');
const {get, post, requestBody} = require('@loopback/rest');
const {SecurityBindings, securityId} = require('@loopback/security');
const {genSalt, hash} = require('bcryptjs');

// todo.controller.ts: @authenticate('jwt') on the class.
authenticate('jwt')(TodoController);

// user.controller.ts
const CredentialsSchema = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: {type: 'string', format: 'email'},
    password: {type: 'string', minLength: 8},
  },
};
const CredentialsRequestBody = {
  description: 'The input of login function',
  required: true,
  content: {'application/json': {schema: CredentialsSchema}},
};

class UserController {
  constructor(jwtService, userService, user, userRepository) {
    this.jwtService = jwtService;
    this.userService = userService;
    this.user = user;
    this.userRepository = userRepository;
  }

  async login(credentials) {
    const user = await this.userService.verifyCredentials(credentials);
    const userProfile = this.userService.convertToUserProfile(user);
    const token = await this.jwtService.generateToken(userProfile);
    return {token};
  }

  async whoAmI(currentUserProfile) {
    return currentUserProfile[securityId];
  }

  async signUp(newUserRequest) {
    const password = await hash(newUserRequest.password, await genSalt());
    const {password: _omitted, ...rest} = newUserRequest;
    const savedUser = await this.userRepository.create(rest);
    await this.userRepository.userCredentials(savedUser.id).create({password});
    return savedUser;
  }
}

function decorateMethod(decorators, name) {
  const descriptor = Object.getOwnPropertyDescriptor(UserController.prototype, name);
  for (const d of decorators.reverse()) d(UserController.prototype, name, descriptor);
}
// Parameter decorators as TypeScript emits them (__param), then the method's.
inject(TokenServiceBindings.TOKEN_SERVICE)(UserController, undefined, 0);
inject(UserServiceBindings.USER_SERVICE)(UserController, undefined, 1);
inject(SecurityBindings.USER, {optional: true})(UserController, undefined, 2);
repository(UserRepository)(UserController, undefined, 3);
Reflect.defineMetadata('design:paramtypes', [Object, Object, Object, UserRepository], UserController);

requestBody(CredentialsRequestBody)(UserController.prototype, 'login', 0);
Reflect.defineMetadata('design:paramtypes', [Object], UserController.prototype, 'login');
decorateMethod(
  [
    post('/users/login', {
      responses: {
        '200': {
          description: 'Token',
          content: {
            'application/json': {
              schema: {type: 'object', properties: {token: {type: 'string'}}},
            },
          },
        },
      },
    }),
  ],
  'login',
);

inject(SecurityBindings.USER)(UserController.prototype, 'whoAmI', 0);
Reflect.defineMetadata('design:paramtypes', [Object], UserController.prototype, 'whoAmI');
decorateMethod(
  [
    authenticate('jwt'),
    get('/whoAmI', {
      responses: {
        '200': {
          description: 'Return current user',
          content: {'application/json': {schema: {type: 'string'}}},
        },
      },
    }),
  ],
  'whoAmI',
);

requestBody({
  content: {'application/json': {schema: CredentialsSchema}},
})(UserController.prototype, 'signUp', 0);
Reflect.defineMetadata('design:paramtypes', [Object], UserController.prototype, 'signUp');
decorateMethod(
  [
    post('/signup', {
      responses: {
        '200': {
          description: 'User',
          content: {'application/json': {schema: {type: 'object'}}},
        },
      },
    }),
  ],
  'signUp',
);

// application.ts
class TodoJwtApplication extends TodoListApplication {
  constructor(options) {
    super(options);
    this.component(AuthenticationComponent);
    this.component(JWTAuthenticationComponent);
    this.dataSource(DbDataSource, UserServiceBindings.DATASOURCE_NAME);
    this.controller(UserController);
  }
}

async function main() {
  const app = new TodoJwtApplication({
    rest: {
      port: +(process.env.PORT ?? 3000),
      host: process.env.HOST ?? '127.0.0.1',
      gracePeriodForClose: 5000,
      openApiSpec: {setServersFromRequest: true},
    },
  });
  await app.boot();
  await app.start();
  console.log(`listening ${app.restServer.url}`);
  const stop = async () => {
    await app.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(err => {
  console.error('cannot start the application', err);
  process.exit(1);
});
